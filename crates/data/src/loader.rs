//! Seeded shuffling and batching on a background thread.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use burn::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;

use crate::{DataError, Dataset};

/// Where a loader stands: the epoch and the number of batches already taken from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoaderPosition {
    /// Epoch, from 0.
    pub epoch: u64,
    /// Batches of this epoch already handed out.
    pub batch: u64,
}

/// One batch on the host.
#[derive(Debug, Clone)]
pub struct HostBatch {
    /// Items, `[B, C, H, W]` row-major.
    pub items: Vec<f32>,
    /// Labels, one per item, where the dataset has them.
    pub labels: Option<Vec<u32>>,
    /// `[B, C, H, W]`.
    pub shape: [usize; 4],
    /// Position of the loader once this batch has been taken.
    pub next: LoaderPosition,
}

impl HostBatch {
    /// The items as a tensor on `device`.
    pub fn to_tensor(&self, device: &Device) -> Tensor<4> {
        Tensor::from_data(TensorData::new(self.items.clone(), self.shape), device)
    }

    /// Moves the items into a tensor on `device` without copying on the host.
    pub fn into_tensor(self, device: &Device) -> Tensor<4> {
        Tensor::from_data(TensorData::new(self.items, self.shape), device)
    }
}

/// The order of items in `epoch`: a permutation that depends only on `seed` and `epoch`.
pub fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let stream = seed ^ epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    order.shuffle(&mut Pcg64Mcg::seed_from_u64(stream));
    order
}

/// Hands out shuffled batches of a [`Dataset`], assembled ahead of time on a background
/// thread. Every epoch visits each item at most once; the last incomplete batch of an
/// epoch is dropped so every batch has the same size.
pub struct BatchLoader {
    receiver: Receiver<Result<HostBatch, DataError>>,
    worker: Option<JoinHandle<()>>,
    batches_per_epoch: u64,
}

impl BatchLoader {
    /// Starts a loader at `start` that keeps up to `prefetch` batches ready.
    pub fn new(
        dataset: Arc<dyn Dataset>,
        batch_size: usize,
        seed: u64,
        start: LoaderPosition,
        prefetch: usize,
    ) -> Result<Self, DataError> {
        if batch_size == 0 {
            return Err(DataError::Invalid("batch size must be at least 1".into()));
        }
        let batches_per_epoch = (dataset.len() / batch_size) as u64;
        if batches_per_epoch == 0 {
            return Err(DataError::Invalid(format!(
                "the dataset has {} items, fewer than one batch of {batch_size}",
                dataset.len()
            )));
        }
        let (sender, receiver) = sync_channel(prefetch.max(1));
        let worker = std::thread::Builder::new()
            .name("ganforge-loader".into())
            .spawn(move || produce(dataset, batch_size, seed, start, batches_per_epoch, sender))
            .map_err(|e| DataError::Invalid(format!("cannot start the loader thread: {e}")))?;
        Ok(Self {
            receiver,
            worker: Some(worker),
            batches_per_epoch,
        })
    }

    /// Full batches per epoch.
    pub fn batches_per_epoch(&self) -> u64 {
        self.batches_per_epoch
    }

    /// The next batch, waiting for the background thread if it is behind.
    pub fn next_batch(&mut self) -> Result<HostBatch, DataError> {
        self.receiver.recv().map_err(|_| DataError::LoaderStopped)?
    }
}

impl Drop for BatchLoader {
    fn drop(&mut self) {
        // Unblock the worker: once the receiver is gone its next send fails and it returns.
        let (_, dead) = sync_channel(1);
        drop(std::mem::replace(&mut self.receiver, dead));
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn produce(
    dataset: Arc<dyn Dataset>,
    batch_size: usize,
    seed: u64,
    start: LoaderPosition,
    batches_per_epoch: u64,
    sender: SyncSender<Result<HostBatch, DataError>>,
) {
    let [c, h, w] = dataset.item_shape();
    let item = c * h * w;
    let mut position = start;
    if position.batch >= batches_per_epoch {
        position = LoaderPosition {
            epoch: position.epoch + 1,
            batch: 0,
        };
    }
    loop {
        let order = epoch_order(dataset.len(), seed, position.epoch);
        while position.batch < batches_per_epoch {
            let first = position.batch as usize * batch_size;
            let indices = &order[first..first + batch_size];
            let mut items = vec![0.0f32; batch_size * item];
            let labels: Result<Vec<Option<u32>>, DataError> = items
                .par_chunks_mut(item)
                .zip(indices.par_iter())
                .map(|(out, &index)| dataset.write_item(index, out))
                .collect();
            position.batch += 1;
            let next = if position.batch == batches_per_epoch {
                LoaderPosition {
                    epoch: position.epoch + 1,
                    batch: 0,
                }
            } else {
                position
            };
            let batch = labels.map(|labels| HostBatch {
                items,
                labels: labels.into_iter().collect(),
                shape: [batch_size, c, h, w],
                next,
            });
            let failed = batch.is_err();
            if sender.send(batch).is_err() || failed {
                return;
            }
        }
        position = LoaderPosition {
            epoch: position.epoch + 1,
            batch: 0,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ToyDataset, ToyDistribution};

    fn toy(n: usize) -> Arc<dyn Dataset> {
        Arc::new(ToyDataset::new(ToyDistribution::Ring8, n, 0).unwrap())
    }

    #[test]
    fn permutation_is_seeded_and_complete() {
        let a = epoch_order(100, 3, 0);
        assert_eq!(a, epoch_order(100, 3, 0));
        assert_ne!(a, epoch_order(100, 3, 1));
        assert_ne!(a, epoch_order(100, 4, 0));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn batches_cover_an_epoch_and_positions_advance() {
        let mut loader = BatchLoader::new(toy(10), 3, 1, LoaderPosition::default(), 2).unwrap();
        assert_eq!(loader.batches_per_epoch(), 3);
        let nexts: Vec<_> = (0..4).map(|_| loader.next_batch().unwrap().next).collect();
        assert_eq!(nexts[0], LoaderPosition { epoch: 0, batch: 1 });
        assert_eq!(nexts[2], LoaderPosition { epoch: 1, batch: 0 });
        assert_eq!(nexts[3], LoaderPosition { epoch: 1, batch: 1 });
    }

    #[test]
    fn resuming_from_a_position_gives_the_same_batches() {
        let mut full = BatchLoader::new(toy(20), 4, 9, LoaderPosition::default(), 2).unwrap();
        let all: Vec<_> = (0..12).map(|_| full.next_batch().unwrap()).collect();
        let mut resumed = BatchLoader::new(toy(20), 4, 9, all[6].next, 2).unwrap();
        for expected in &all[7..] {
            let got = resumed.next_batch().unwrap();
            assert_eq!(got.items, expected.items);
            assert_eq!(got.next, expected.next);
        }
    }

    #[test]
    fn too_small_dataset_is_an_error() {
        assert!(BatchLoader::new(toy(2), 3, 0, LoaderPosition::default(), 1).is_err());
        assert!(BatchLoader::new(toy(2), 0, 0, LoaderPosition::default(), 1).is_err());
    }
}
