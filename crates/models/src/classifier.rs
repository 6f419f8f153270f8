//! A small CNN image classifier, to check what a conditional generator made: "is this 7 a
//! 7?". Its penultimate features also serve as a dataset-specific feature space.
//!
//! `[Conv3x3 BN ReLU, Conv3x3/2 BN ReLU] x 2 -> flatten -> Linear(2w * s * s -> F) ReLU (the
//! features) -> Linear(F -> classes)`, with `w = width` and `s` the image side after two
//! halvings.

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;

use crate::error::{ModelError, positive};
use crate::init::WeightInit;
use crate::layers;

/// Configuration of [`Classifier`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierConfig {
    /// Image channels.
    pub channels: usize,
    /// Image side (at least 4: the network halves it twice).
    pub image_size: usize,
    /// Number of classes.
    pub classes: usize,
    /// Channels of the first two convolutions; the last two have twice as many.
    pub width: usize,
    /// Width of the penultimate features.
    pub features: usize,
}

impl ClassifierConfig {
    /// A classifier of `classes` classes for `[channels, image_size, image_size]` images, with
    /// width 32 and 128 features.
    pub fn new(channels: usize, image_size: usize, classes: usize) -> Self {
        Self {
            channels,
            image_size,
            classes,
            width: 32,
            features: 128,
        }
    }

    /// The same with convolutions `width` channels wide.
    pub fn with_width(self, width: usize) -> Self {
        Self { width, ..self }
    }

    /// Builds the classifier; rejects zero sizes, fewer than 2 classes and images under 4x4.
    pub fn init(&self, device: &Device, init: &mut WeightInit) -> Result<Classifier, ModelError> {
        for (field, value) in [
            ("channels", self.channels),
            ("width", self.width),
            ("features", self.features),
        ] {
            positive(field, value)?;
        }
        if self.classes < 2 {
            return Err(ModelError::InvalidSize {
                field: "classes",
                value: self.classes,
                reason: "a classifier needs at least 2 classes".into(),
            });
        }
        if self.image_size < 4 {
            return Err(ModelError::InvalidSize {
                field: "image_size",
                value: self.image_size,
                reason: "the classifier halves the image twice, so it needs at least 4".into(),
            });
        }
        let w = self.width;
        // Two stride-2 convolutions with padding 1: s -> ceil(s / 2), twice.
        let side = self.image_size.div_ceil(2).div_ceil(2);
        let widths = [[self.channels, w], [w, w], [w, 2 * w], [2 * w, 2 * w]];
        let blocks = widths
            .iter()
            .enumerate()
            .map(|(i, &[c_in, c_out])| ConvBlock {
                conv: init.conv2d([c_in, c_out], 3, 1 + i % 2, 1, false, device),
                norm: init.batch_norm(c_out, device),
            })
            .collect();
        Ok(Classifier {
            blocks,
            hidden: init.linear(2 * w * side * side, self.features, true, device),
            out: init.linear(self.features, self.classes, true, device),
        })
    }
}

/// A convolution with batch normalisation and ReLU.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    norm: BatchNorm,
}

/// The classifier.
///
/// # Shapes
/// - input: `[B, C, H, W]` in `[-1, 1]`
/// - features: `[B, features]`; logits: `[B, classes]`
#[derive(Module, Debug)]
pub struct Classifier {
    blocks: Vec<ConvBlock>,
    hidden: Linear,
    out: Linear,
}

impl Classifier {
    /// The penultimate features.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = x;
        for block in &self.blocks {
            let y = layers::conv2d(&block.conv, x);
            x = layers::batch_norm_leaky_relu(&block.norm, y, 0.0);
        }
        let flat: Tensor<2> = x.flatten(1, 3); // [B, 2w * s * s]
        burn::tensor::activation::relu(self.hidden.forward(flat)) // [B, F]
    }

    /// Class logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.logits(self.features(x))
    }

    /// Class logits from penultimate features ([`Classifier::features`]).
    pub fn logits(&self, features: Tensor<2>) -> Tensor<2> {
        self.out.forward(features)
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.out.weight.dims()[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_bad_sizes() {
        let device = Device::flex();
        let c = ClassifierConfig::new(3, 32, 10)
            .with_width(8)
            .init(&device, &mut WeightInit::new(0))
            .unwrap();
        let x = Tensor::<4>::zeros([2, 3, 32, 32], &device);
        assert_eq!(c.features(x.clone()).dims(), [2, 128]);
        assert_eq!(c.forward(x).dims(), [2, 10]);
        assert_eq!(c.classes(), 10);
        let err = ClassifierConfig::new(1, 28, 1)
            .init(&device, &mut WeightInit::new(0))
            .unwrap_err();
        assert!(err.to_string().contains("classes"), "{err}");
    }
}
