//! Stacked data for counting modes: three items of a one-channel labelled dataset as the
//! channels of one item (stacked MNIST: Metz et al. 2017, Lin et al. 2018). With MNIST's ten
//! digits there are 1,000 modes, one per triple of classes; a generator's mode coverage is
//! counted by classifying each of its channels.

use std::sync::Arc;

use crate::masks::splitmix64;
use crate::{DataError, Dataset};

/// Channels of a stacked item.
pub const STACKED_CHANNELS: usize = 3;

/// `items` items, each made of three items of a one-channel labelled dataset drawn at random
/// (deterministically from the seed and the index) as its channels; labelled
/// `c0 * k^2 + c1 * k + c2` for the three items' classes `c0, c1, c2` of `k` classes.
pub struct Stacked {
    images: Arc<dyn Dataset>,
    items: usize,
    seed: u64,
    classes: usize,
}

impl Stacked {
    /// Stacks items of `images`, which must have one channel and labels; `items` stacked items
    /// drawn with `seed`.
    pub fn new(images: Arc<dyn Dataset>, items: usize, seed: u64) -> Result<Self, DataError> {
        let [channels, h, w] = images.item_shape();
        if channels != 1 {
            return Err(DataError::Invalid(format!(
                "stacking needs one-channel items; these are {channels}x{h}x{w}"
            )));
        }
        let Some(classes) = images.num_classes() else {
            return Err(DataError::Invalid(
                "stacking needs labelled items, to count the modes".into(),
            ));
        };
        if items == 0 || images.is_empty() {
            return Err(DataError::Invalid(format!(
                "stacking {items} items from a dataset of {}: both must be at least 1",
                images.len()
            )));
        }
        Ok(Self {
            images,
            items,
            seed,
            classes,
        })
    }

    /// The index in the underlying dataset of channel `channel` of item `index`.
    fn source(&self, index: usize, channel: usize) -> usize {
        let place = splitmix64(self.seed) ^ (index * STACKED_CHANNELS + channel) as u64;
        (splitmix64(place) % self.images.len() as u64) as usize
    }
}

impl Dataset for Stacked {
    fn len(&self) -> usize {
        self.items
    }

    fn item_shape(&self) -> [usize; 3] {
        let [_, h, w] = self.images.item_shape();
        [STACKED_CHANNELS, h, w]
    }

    fn num_classes(&self) -> Option<usize> {
        Some(self.classes.pow(STACKED_CHANNELS as u32))
    }

    fn class_names(&self) -> Option<Vec<String>> {
        Some(stacked_class_names(&self.images.class_names()?))
    }

    fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
        if index >= self.items {
            return Err(DataError::Invalid(format!(
                "item {index} out of range (stacked data has {})",
                self.items
            )));
        }
        let plane = out.len() / STACKED_CHANNELS;
        let mut label = 0u32;
        for (channel, part) in out.chunks_exact_mut(plane).enumerate() {
            let class = self
                .images
                .write_item(self.source(index, channel), part)?
                .ok_or_else(|| DataError::Invalid("an item to stack has no label".into()))?;
            label = label * self.classes as u32 + class;
        }
        Ok(Some(label))
    }
}

/// The class names of stacked items of classes `names`: the three classes' names joined
/// (`"721"` for MNIST's 7, 2 and 1; joined by `-` when a name is longer than one character),
/// in label order.
pub fn stacked_class_names(names: &[String]) -> Vec<String> {
    let separator = if names.iter().all(|n| n.chars().count() == 1) {
        ""
    } else {
        "-"
    };
    let k = names.len();
    (0..k.pow(STACKED_CHANNELS as u32))
        .map(|label| {
            let parts = [label / (k * k), label / k % k, label % k];
            parts.map(|c| names[c].as_str()).join(separator)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One-channel 2x2 items whose pixels all hold their index; labelled index mod 10.
    struct Digits(usize);

    impl Dataset for Digits {
        fn len(&self) -> usize {
            self.0
        }
        fn item_shape(&self) -> [usize; 3] {
            [1, 2, 2]
        }
        fn num_classes(&self) -> Option<usize> {
            Some(10)
        }
        fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
            out.fill(index as f32);
            Ok(Some((index % 10) as u32))
        }
    }

    #[test]
    fn channels_are_items_and_the_label_is_their_classes() {
        let stacked = Stacked::new(Arc::new(Digits(50)), 200, 3).unwrap();
        assert_eq!(stacked.item_shape(), [3, 2, 2]);
        assert_eq!(stacked.num_classes(), Some(1000));
        let names = stacked.class_names().unwrap();
        assert_eq!((names[0].as_str(), names[721].as_str()), ("000", "721"));
        let mut out = vec![0.0; 12];
        let mut labels = std::collections::BTreeSet::new();
        for index in 0..200 {
            let label = stacked.write_item(index, &mut out).unwrap().unwrap();
            let parts: Vec<u32> = out.chunks(4).map(|c| c[0] as u32 % 10).collect();
            assert_eq!(label, parts[0] * 100 + parts[1] * 10 + parts[2]);
            labels.insert(label);
        }
        // Deterministic from the seed, different for another.
        let mut again = vec![0.0; 12];
        stacked.write_item(7, &mut out).unwrap();
        Stacked::new(Arc::new(Digits(50)), 200, 3)
            .unwrap()
            .write_item(7, &mut again)
            .unwrap();
        assert_eq!(out, again);
        let other = Stacked::new(Arc::new(Digits(50)), 200, 4).unwrap();
        let differs = (0..20).any(|i| {
            other.write_item(i, &mut again).unwrap();
            stacked.write_item(i, &mut out).unwrap();
            out != again
        });
        assert!(differs);
        assert!(
            labels.len() > 150,
            "triples spread over the modes: {}",
            labels.len()
        );
        assert!(stacked.write_item(200, &mut out).is_err());
    }

    #[test]
    fn refuses_what_cannot_be_stacked() {
        assert!(Stacked::new(Arc::new(Digits(5)), 0, 0).is_err());
        assert!(Stacked::new(Arc::new(Digits(0)), 5, 0).is_err());
    }
}
