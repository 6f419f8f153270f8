//! Datasets and batching for GAN training.
//!
//! A [`Dataset`] hands out items as `[C, H, W]` floats (images normalised to `[-1, 1]`) with
//! an optional class label. Shipped datasets:
//! - [`IdxDataset`]: MNIST and Fashion-MNIST from IDX files, gzipped or not; [`locate`] finds
//!   them (explicit directory, `$GANFORGE_DATA`, system and cache directories) or downloads
//!   them with SHA-256 verification;
//! - [`Cifar10`]: CIFAR-10 from its official binary archive, found and downloaded like MNIST;
//! - [`ImageFolder`]: PNG/JPEG files, class sub-folders as labels, resized and centre-cropped;
//! - [`ToyDataset`]: 2-D mixtures of Gaussians (ring of 8, 5x5 grid) as `[2, 1, 1]` points;
//! - [`Stacked`]: three items of a one-channel dataset as the channels of one (stacked MNIST,
//!   1,000 modes), for counting the modes a generator covers.
//!
//! Paired images for image-to-image translation ([`PairedDataset`]: the source's channels then
//! the target's in one item) come from pix2pix's aligned format ([`AlignedPairs`]), from two
//! folders with matching names ([`FolderPairs`]), or from any image dataset through a
//! [`PairTask`] ([`TaskPairs`]: edges, greyscale, low resolution or a hole -> the image).
//! Holes for inpainting are drawn by [`draw_mask`] (centre squares, random rectangles,
//! free-form strokes) or read from a picture by [`read_mask`].
//!
//! [`Table`] is a CSV table with missing cells (numeric and categorical columns), the input
//! and output of tabular imputation.
//!
//! [`BatchLoader`] shuffles with a seed per epoch and assembles batches on a background thread,
//! so the training loop never waits for data; its [`LoaderPosition`] is all a checkpoint needs
//! to resume the exact same sequence of batches.

mod cifar;
mod dataset;
mod download;
mod error;
mod idx;
mod image_folder;
mod loader;
mod locate;
mod masks;
mod paired;
mod stacked;
mod table;
mod toy;

pub use cifar::{Cifar10, Cifar10Source};
pub use dataset::Dataset;
pub use download::{RemoteFile, download_files};
pub use error::DataError;
pub use idx::{IdxDataset, IdxKind, Split, write_idx_fixture};
pub use image_folder::{ColorMode, ImageFolder, find_images, picture_dimensions, read_image};
pub use loader::{BatchLoader, HostBatch, LoaderPosition};
pub use locate::{DataSource, Findable, LocateOptions, cache_dir, locate};
pub use masks::{HoleShape, draw_mask, read_mask};
pub use paired::{AlignedPairs, FolderPairs, Padded, PairTask, PairedDataset, TaskPairs};
pub use stacked::{STACKED_CHANNELS, Stacked, stacked_class_names};
pub use table::{ColumnKind, MISSING_TOKENS, Table, table_fixture};
pub use toy::{ToyDataset, ToyDistribution};
