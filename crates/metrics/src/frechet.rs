//! Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, "GANs
//! Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium"): the FID when
//! the features are Inception-v3's pool3 activations.

use faer::{Mat, MatRef, Side};
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
        let x = features.as_slice();
        let mean: Vec<f64> = (0..d)
            .map(|j| (0..n).map(|i| x[i * d + j]).sum::<f64>() / n as f64)
            .collect();
        let centred = Mat::<f64>::from_fn(n, d, |i, j| x[i * d + j] - mean[j]);
        let covariance = centred.transpose() * &centred / faer::Scale(n as f64 - 1.0);
        Ok(Self {
            covariance: row_major(covariance.as_ref()),
            mean,
            samples: n,
        })
    }

    /// Features per sample.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    fn covariance_matrix(&self) -> Mat<f64> {
        let d = self.dim();
        Mat::from_fn(d, d, |i, j| self.covariance[i * d + j])
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
    let mean_term: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    let (sa, sb) = (a.covariance_matrix(), b.covariance_matrix());
    let root_a = psd_sqrt(&sa)?;
    let middle = symmetrised(&(&root_a * &sb * &root_a));
    let trace_root: f64 = clamped_roots(&eigenvalues(&middle)?).sum();
    let trace = |m: &Mat<f64>| (0..m.nrows()).map(|i| m[(i, i)]).sum::<f64>();
    Ok(mean_term + trace(&sa) + trace(&sb) - 2.0 * trace_root)
}

/// The symmetric square root of a symmetric positive semi-definite matrix.
fn psd_sqrt(m: &Mat<f64>) -> Result<Mat<f64>, MetricsError> {
    let eigen = symmetrised(m)
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| not_converged(format!("{e:?}")))?;
    let values: Vec<f64> = eigen.S().column_vector().iter().copied().collect();
    let vectors = eigen.U();
    let roots: Vec<f64> = clamped_roots(&values).collect();
    let scaled = Mat::from_fn(m.nrows(), m.ncols(), |i, j| vectors[(i, j)] * roots[j]);
    Ok(&scaled * vectors.transpose())
}

/// Eigenvalues of a symmetric matrix.
fn eigenvalues(m: &Mat<f64>) -> Result<Vec<f64>, MetricsError> {
    m.self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| not_converged(format!("{e:?}")))
}

fn not_converged(reason: String) -> MetricsError {
    MetricsError::Numerical(format!("symmetric eigendecomposition failed: {reason}"))
}

/// Square roots of eigenvalues, with those at rounding-noise level taken as zero.
fn clamped_roots(eigenvalues: &[f64]) -> impl Iterator<Item = f64> + '_ {
    let largest = eigenvalues.iter().fold(0.0f64, |m, &l| m.max(l.abs()));
    let noise = eigenvalues.len() as f64 * f64::EPSILON * largest;
    eigenvalues
        .iter()
        .map(move |&l| if l > noise { l.sqrt() } else { 0.0 })
}

/// `(m + m^T) / 2`, without the asymmetry that rounding leaves.
fn symmetrised(m: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| 0.5 * (m[(i, j)] + m[(j, i)]))
}

/// A matrix's entries in row-major order.
fn row_major(m: MatRef<'_, f64>) -> Vec<f64> {
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)]))
        .collect()
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
