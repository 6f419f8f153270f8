//! Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs"): the unbiased
//! squared maximum mean discrepancy between two feature sets under the cubic polynomial kernel
//! `k(x, y) = (x . y / dim + 1)^3`, averaged over random subsets.

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use crate::features::{at_least, same_dim};
use crate::{Features, MetricsError};

/// How KID draws its subsets. The defaults are those of the paper's code and torch-fidelity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KidConfig {
    /// Number of subset pairs averaged.
    pub subsets: usize,
    /// Samples drawn (without replacement) from each set per subset; reduced to the smaller
    /// set's size when a set has fewer.
    pub subset_size: usize,
    /// Seed of the subset draws.
    pub seed: u64,
}

impl Default for KidConfig {
    fn default() -> Self {
        Self {
            subsets: 100,
            subset_size: 1000,
            seed: 0,
        }
    }
}

/// KID's mean and standard deviation over subsets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Kid {
    /// Mean unbiased MMD^2 over the subsets.
    pub mean: f64,
    /// Standard deviation of the subsets' MMD^2 (population, as numpy's `std`).
    pub std: f64,
    /// Samples per set in each subset.
    pub subset_size: usize,
}

/// KID between `real` and `fake`, each with at least two samples.
pub fn kernel_inception_distance(
    real: &Features,
    fake: &Features,
    config: &KidConfig,
) -> Result<Kid, MetricsError> {
    same_dim(real, fake)?;
    at_least(real, 2, "KID")?;
    at_least(fake, 2, "KID")?;
    let m = config.subset_size.min(real.rows()).min(fake.rows()).max(2);
    let mut rng = Pcg64::seed_from_u64(config.seed);
    let scores: Vec<f64> = (0..config.subsets.max(1))
        .map(|_| {
            let x = real.select(&sample(&mut rng, real.rows(), m).into_vec());
            let y = fake.select(&sample(&mut rng, fake.rows(), m).into_vec());
            unbiased_mmd2(&x, &y)
        })
        .collect();
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64;
    Ok(Kid {
        mean,
        std: var.sqrt(),
        subset_size: m,
    })
}

/// Unbiased MMD^2 of two equally sized sets under the cubic polynomial kernel.
fn unbiased_mmd2(x: &Features, y: &Features) -> f64 {
    let m = x.rows() as f64;
    let within = |a: &Features| {
        let mut sum = 0.0;
        for i in 0..a.rows() {
            for j in (i + 1)..a.rows() {
                sum += kernel(a.row(i), a.row(j));
            }
        }
        2.0 * sum / (m * (m - 1.0))
    };
    let mut across = 0.0;
    for i in 0..x.rows() {
        for j in 0..y.rows() {
            across += kernel(x.row(i), y.row(j));
        }
    }
    within(x) + within(y) - 2.0 * across / (m * m)
}

fn kernel(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(p, q)| p * q).sum();
    (dot / a.len() as f64 + 1.0).powi(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` samples uniform on `[-1, 1]^3` drawn with `seed`, plus `offset`.
    fn features(n: usize, seed: u64, offset: f64) -> Features {
        use rand::RngExt;
        let mut rng = Pcg64::seed_from_u64(seed);
        let values = (0..n * 3)
            .map(|_| rng.random::<f64>() * 2.0 - 1.0 + offset)
            .collect();
        Features::new(values, 3).unwrap()
    }

    #[test]
    fn same_distribution_scores_near_zero_and_a_shifted_one_does_not() {
        let config = KidConfig {
            subsets: 10,
            subset_size: 100,
            seed: 1,
        };
        let a = features(200, 1, 0.0);
        let b = features(200, 2, 0.0);
        let same = kernel_inception_distance(&a, &b, &config).unwrap();
        let shifted = kernel_inception_distance(&a, &features(200, 3, 1.0), &config).unwrap();
        assert!(same.mean.abs() < 0.05, "{same:?}");
        assert!(shifted.mean > 1.0, "{shifted:?}");
        assert_eq!(same.subset_size, 100);
    }

    #[test]
    fn subsets_shrink_to_the_smaller_set() {
        let config = KidConfig::default();
        let kid = kernel_inception_distance(&features(30, 1, 0.0), &features(20, 2, 0.0), &config);
        assert_eq!(kid.unwrap().subset_size, 20);
    }
}
