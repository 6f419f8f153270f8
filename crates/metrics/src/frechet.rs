//! Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, "GANs
//! Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium"): the FID when
//! the features are Inception-v3's pool3 activations.

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::{Deserialize, Serialize};

use crate::features::at_least;
use crate::{Features, MetricsError};

/// Mean and covariance of a feature set: all the Fréchet distance needs from it, and what is
/// cached for a reference set.
///
/// # Shapes
/// - `mean`: `[dim]`
/// - `covariance`: `[dim * dim]`, row-major, unbiased (divided by `samples - 1`, as
///   `numpy.cov`)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianStats {
    /// Mean of each feature.
    pub mean: Vec<f64>,
    /// Covariance of the features.
    pub covariance: Vec<f64>,
    /// Number of samples the statistics were computed from.
    pub samples: usize,
}

impl GaussianStats {
    /// Fits a Gaussian to `features` (at least two samples).
    pub fn of(features: &Features) -> Result<Self, MetricsError> {
        at_least(features, 2, "the Fréchet distance")?;
        let (n, d) = (features.rows(), features.dim());
        let x = DMatrix::from_row_slice(n, d, features.as_slice());
        let mean = x.row_mean();
        let mut centred = x;
        for mut row in centred.row_iter_mut() {
            row -= &mean;
        }
        let covariance = centred.tr_mul(&centred) / (n as f64 - 1.0);
        Ok(Self {
            mean: mean.iter().copied().collect(),
            // nalgebra stores column-major; the transpose's storage is row-major.
            covariance: covariance.transpose().as_slice().to_vec(),
            samples: n,
        })
    }

    /// Features per sample.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    fn covariance_matrix(&self) -> DMatrix<f64> {
        let d = self.dim();
        DMatrix::from_row_slice(d, d, &self.covariance)
    }
}

/// `|mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))`, in f64.
///
/// The trace of the matrix square root is computed exactly rather than by an iterative
/// approximation: `S_a S_b` is similar to the symmetric positive semi-definite
/// `S_a^(1/2) S_b S_a^(1/2)`, so the trace is the sum of the square roots of that matrix's
/// eigenvalues, which two symmetric eigendecompositions give. Eigenvalues at the level of
/// rounding noise (`dim * f64::EPSILON` of the largest, or negative) count as zero: a singular
/// covariance (fewer samples than features) has exact zeros there, whose noise the square root
/// would otherwise magnify.
pub fn frechet_distance(a: &GaussianStats, b: &GaussianStats) -> Result<f64, MetricsError> {
    if a.dim() != b.dim() {
        return Err(MetricsError::DimensionMismatch {
            left: a.dim(),
            right: b.dim(),
        });
    }
    let mean_term =
        (DVector::from_column_slice(&a.mean) - DVector::from_column_slice(&b.mean)).norm_squared();
    let (sa, sb) = (a.covariance_matrix(), b.covariance_matrix());
    let root_a = psd_sqrt(&sa);
    let mut middle = &root_a * sb.clone() * &root_a;
    symmetrise(&mut middle);
    let trace_root: f64 = clamped_roots(&SymmetricEigen::new(middle).eigenvalues).sum();
    Ok(mean_term + sa.trace() + sb.trace() - 2.0 * trace_root)
}

/// The symmetric square root of a symmetric positive semi-definite matrix.
fn psd_sqrt(m: &DMatrix<f64>) -> DMatrix<f64> {
    let mut m = m.clone();
    symmetrise(&mut m);
    let eigen = SymmetricEigen::new(m);
    let vectors = eigen.eigenvectors;
    let mut scaled = vectors.clone();
    for (mut column, root) in scaled
        .column_iter_mut()
        .zip(clamped_roots(&eigen.eigenvalues))
    {
        column *= root;
    }
    scaled * vectors.transpose()
}

/// Square roots of eigenvalues, with those at rounding-noise level taken as zero.
fn clamped_roots(eigenvalues: &DVector<f64>) -> impl Iterator<Item = f64> + '_ {
    let largest = eigenvalues.iter().fold(0.0f64, |m, &l| m.max(l.abs()));
    let noise = eigenvalues.len() as f64 * f64::EPSILON * largest;
    eigenvalues
        .iter()
        .map(move |&l| if l > noise { l.sqrt() } else { 0.0 })
}

/// Replaces `m` by `(m + m^T) / 2`, removing the asymmetry that rounding leaves.
fn symmetrise(m: &mut DMatrix<f64>) {
    let t = m.transpose();
    *m += t;
    *m *= 0.5;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(rows: &[[f64; 2]]) -> GaussianStats {
        let values = rows.iter().flatten().copied().collect();
        GaussianStats::of(&Features::new(values, 2).unwrap()).unwrap()
    }

    #[test]
    fn identical_sets_are_at_distance_zero() {
        let a = stats(&[[0.0, 1.0], [2.0, -1.0], [1.0, 3.0], [4.0, 0.5]]);
        assert!(frechet_distance(&a, &a).unwrap().abs() < 1e-12);
    }

    #[test]
    fn shifted_set_is_at_the_squared_shift() {
        let a = stats(&[[0.0, 1.0], [2.0, -1.0], [1.0, 3.0], [4.0, 0.5]]);
        let b = stats(&[[3.0, 5.0], [5.0, 3.0], [4.0, 7.0], [7.0, 4.5]]);
        let d = frechet_distance(&a, &b).unwrap();
        assert!((d - 25.0).abs() < 1e-9, "{d}");
    }

    #[test]
    fn closed_form_for_diagonal_covariances() {
        // One-dimensional Gaussians: (m1 - m2)^2 + (s1 - s2)^2.
        let a = GaussianStats {
            mean: vec![1.0],
            covariance: vec![4.0],
            samples: 10,
        };
        let b = GaussianStats {
            mean: vec![0.0],
            covariance: vec![9.0],
            samples: 10,
        };
        let d = frechet_distance(&a, &b).unwrap();
        assert!((d - 2.0).abs() < 1e-12, "{d}");
    }

    #[test]
    fn covariance_is_unbiased() {
        let s = stats(&[[1.0, 0.0], [3.0, 0.0]]);
        assert_eq!(s.mean, vec![2.0, 0.0]);
        assert_eq!(s.covariance, vec![2.0, 0.0, 0.0, 0.0]);
    }
}
