//! Statistics that judge generated samples.
//!
//! These are pure functions of plain numbers: they take samples as slices or [`Features`]
//! (one row of extracted features per sample), not tensors, so they work with any backend and
//! any feature extractor. What a score means depends on the extractor; the caller names it.
//! [`imputation_rmse`] judges filled-in table cells against the values that were removed;
//! [`psnr`], [`ssim`] and [`mean_absolute_error`] judge a translated or inpainted image
//! against its target ([`ImagePair`], optionally inside a mask).

mod error;
mod features;
mod frechet;
mod image_quality;
mod imputation;
mod inception_score;
mod kid;
mod mode_coverage;
mod neighbours;

pub use error::MetricsError;
pub use features::Features;
pub use frechet::{GaussianStats, frechet_distance};
pub use image_quality::{ImagePair, mean_absolute_error, psnr, ssim};
pub use imputation::imputation_rmse;
pub use inception_score::{InceptionScore, inception_score};
pub use kid::{Kid, KidConfig, kernel_inception_distance};
pub use mode_coverage::{ModeCount, ModeCoverage, count_modes, mode_coverage};
pub use neighbours::{DensityCoverage, PrecisionRecall, density_coverage, precision_recall};
