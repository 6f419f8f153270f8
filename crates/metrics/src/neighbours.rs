//! Nearest-neighbour manifold estimates of a feature set: improved precision and recall
//! (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020).
//!
//! Each sample of a set gets a ball whose radius is the distance to its `k`-th nearest other
//! sample; the union of the balls estimates the set's manifold. A sample on a ball's boundary
//! is outside it, as in the papers' code.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::features::{at_least, same_dim};
use crate::{Features, MetricsError};

/// Improved precision and recall.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrecisionRecall {
    /// Fraction of fake samples inside the real manifold: how many samples look real.
    pub precision: f64,
    /// Fraction of real samples inside the fake manifold: how much of the data is generated.
    pub recall: f64,
}

/// Density and coverage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DensityCoverage {
    /// Real balls containing each fake sample, averaged and divided by `k` (1 when fakes are
    /// spread like the reals; above 1 where they crowd).
    pub density: f64,
    /// Fraction of real samples whose ball holds at least one fake sample.
    pub coverage: f64,
}

/// Improved precision and recall with `k`-nearest-neighbour balls (the paper uses `k = 3`).
pub fn precision_recall(
    real: &Features,
    fake: &Features,
    k: usize,
) -> Result<PrecisionRecall, MetricsError> {
    check(real, fake, k, "precision and recall")?;
    let real_radii = kth_neighbour_distances(real, k);
    let fake_radii = kth_neighbour_distances(fake, k);
    Ok(PrecisionRecall {
        precision: fraction_inside(fake, real, &real_radii),
        recall: fraction_inside(real, fake, &fake_radii),
    })
}

/// Density and coverage with `k`-nearest-neighbour balls around the real samples (the paper
/// uses `k = 5`).
pub fn density_coverage(
    real: &Features,
    fake: &Features,
    k: usize,
) -> Result<DensityCoverage, MetricsError> {
    check(real, fake, k, "density and coverage")?;
    let radii = kth_neighbour_distances(real, k);
    let balls_per_fake: usize = (0..fake.rows())
        .into_par_iter()
        .map(|j| {
            (0..real.rows())
                .filter(|&i| squared_distance(fake.row(j), real.row(i)) < radii[i])
                .count()
        })
        .sum();
    let covered = (0..real.rows())
        .into_par_iter()
        .filter(|&i| {
            (0..fake.rows()).any(|j| squared_distance(real.row(i), fake.row(j)) < radii[i])
        })
        .count();
    Ok(DensityCoverage {
        density: balls_per_fake as f64 / (k * fake.rows()) as f64,
        coverage: covered as f64 / real.rows() as f64,
    })
}

fn check(
    real: &Features,
    fake: &Features,
    k: usize,
    metric: &'static str,
) -> Result<(), MetricsError> {
    same_dim(real, fake)?;
    // Each sample needs k others.
    at_least(real, k + 1, metric)?;
    at_least(fake, k + 1, metric)
}

/// Squared distance from each sample to its `k`-th nearest other sample.
fn kth_neighbour_distances(set: &Features, k: usize) -> Vec<f64> {
    (0..set.rows())
        .into_par_iter()
        .map(|i| {
            let mut distances: Vec<f64> = (0..set.rows())
                .map(|j| squared_distance(set.row(i), set.row(j)))
                .collect();
            // The sample itself is at distance zero: the k-th other is the (k+1)-th smallest.
            let (_, kth, _) = distances.select_nth_unstable_by(k, f64::total_cmp);
            *kth
        })
        .collect()
}

/// Fraction of `samples` inside at least one ball around `centres`.
fn fraction_inside(samples: &Features, centres: &Features, radii: &[f64]) -> f64 {
    let inside = (0..samples.rows())
        .into_par_iter()
        .filter(|&j| {
            (0..centres.rows()).any(|i| squared_distance(samples.row(j), centres.row(i)) < radii[i])
        })
        .count();
    inside as f64 / samples.rows() as f64
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(points: &[f64]) -> Features {
        Features::new(points.to_vec(), 1).unwrap()
    }

    #[test]
    fn identical_sets_are_fully_precise_and_covered() {
        let a = line(&[0.0, 1.0, 2.5, 4.0, 7.0, 8.0]);
        let pr = precision_recall(&a, &a, 2).unwrap();
        assert_eq!((pr.precision, pr.recall), (1.0, 1.0));
        let dc = density_coverage(&a, &a, 2).unwrap();
        assert_eq!(dc.coverage, 1.0);
    }

    #[test]
    fn far_fakes_have_no_precision_and_no_coverage() {
        let real = line(&[0.0, 1.0, 2.0, 3.0]);
        let fake = line(&[100.0, 101.0, 102.0, 103.0]);
        let pr = precision_recall(&real, &fake, 1).unwrap();
        assert_eq!((pr.precision, pr.recall), (0.0, 0.0));
        let dc = density_coverage(&real, &fake, 1).unwrap();
        assert_eq!((dc.density, dc.coverage), (0.0, 0.0));
    }

    #[test]
    fn collapsed_fakes_are_precise_but_recall_little() {
        // Real points 0..10 on a line; every fake sits at 5.
        let real = line(&(0..10).map(f64::from).collect::<Vec<_>>());
        let fake = line(&[5.0, 5.0, 5.0, 5.0]);
        let pr = precision_recall(&real, &fake, 1).unwrap();
        assert_eq!(pr.precision, 1.0);
        // The fakes' balls have radius zero: no real sample is strictly inside.
        assert_eq!(pr.recall, 0.0);
        let dc = density_coverage(&real, &fake, 1).unwrap();
        assert_eq!(dc.coverage, 0.1);
    }

    #[test]
    fn too_few_samples_for_k_is_an_error() {
        let a = line(&[0.0, 1.0, 2.0]);
        assert!(matches!(
            precision_recall(&a, &a, 3),
            Err(MetricsError::TooFewSamples { needed: 4, .. })
        ));
    }
}
