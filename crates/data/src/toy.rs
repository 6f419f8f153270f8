//! 2-D mixtures of Gaussians, the standard test of mode coverage (Metz et al. 2017).

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

use crate::{DataError, Dataset};

/// Which mixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToyDistribution {
    /// 8 Gaussians evenly spaced on a circle of radius 2, standard deviation 0.02.
    Ring8,
    /// 25 Gaussians on a 5x5 grid with spacing 2 centred at the origin, standard deviation 0.05.
    Grid25,
}

impl ToyDistribution {
    /// Centres of the mixture components.
    pub fn modes(self) -> Vec<[f32; 2]> {
        match self {
            ToyDistribution::Ring8 => (0..8)
                .map(|k| {
                    let a = k as f32 * std::f32::consts::TAU / 8.0;
                    [2.0 * a.cos(), 2.0 * a.sin()]
                })
                .collect(),
            ToyDistribution::Grid25 => (0..25)
                .map(|k| [((k % 5) as f32 - 2.0) * 2.0, ((k / 5) as f32 - 2.0) * 2.0])
                .collect(),
        }
    }

    /// Standard deviation of every component.
    pub fn std(self) -> f32 {
        match self {
            ToyDistribution::Ring8 => 0.02,
            ToyDistribution::Grid25 => 0.05,
        }
    }
}

/// A fixed sample of `n` points drawn from a [`ToyDistribution`] with a seed.
#[derive(Debug, Clone)]
pub struct ToyDataset {
    points: Vec<[f32; 2]>,
    modes: Vec<u32>,
    distribution: ToyDistribution,
}

impl ToyDataset {
    /// Draws `n` points, each from a uniformly chosen component.
    pub fn new(distribution: ToyDistribution, n: usize, seed: u64) -> Result<Self, DataError> {
        if n == 0 {
            return Err(DataError::Invalid(
                "a toy dataset needs at least one point".into(),
            ));
        }
        let centres = distribution.modes();
        let std = distribution.std();
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let mut points = Vec::with_capacity(n);
        let mut modes = Vec::with_capacity(n);
        for i in 0..n {
            let m = i % centres.len();
            let dx: f32 = StandardNormal.sample(&mut rng);
            let dy: f32 = StandardNormal.sample(&mut rng);
            points.push([centres[m][0] + std * dx, centres[m][1] + std * dy]);
            modes.push(m as u32);
        }
        Ok(Self {
            points,
            modes,
            distribution,
        })
    }

    /// The mixture the points come from.
    pub fn distribution(&self) -> ToyDistribution {
        self.distribution
    }
}

impl Dataset for ToyDataset {
    fn len(&self) -> usize {
        self.points.len()
    }

    fn item_shape(&self) -> [usize; 3] {
        [2, 1, 1]
    }

    fn num_classes(&self) -> Option<usize> {
        Some(self.distribution.modes().len())
    }

    fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
        let p = self.points.get(index).ok_or_else(|| {
            DataError::Invalid(format!(
                "item {index} out of range (dataset has {})",
                self.len()
            ))
        })?;
        out[..2].copy_from_slice(p);
        Ok(Some(self.modes[index]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_geometry() {
        let modes = ToyDistribution::Ring8.modes();
        assert_eq!(modes.len(), 8);
        for m in &modes {
            assert!(((m[0] * m[0] + m[1] * m[1]).sqrt() - 2.0).abs() < 1e-5);
        }
        let ds = ToyDataset::new(ToyDistribution::Ring8, 8000, 1).unwrap();
        let mut out = [0.0; 2];
        let mut max_dev: f32 = 0.0;
        for i in 0..ds.len() {
            let m = ds.write_item(i, &mut out).unwrap().unwrap() as usize;
            let d = ((out[0] - modes[m][0]).powi(2) + (out[1] - modes[m][1]).powi(2)).sqrt();
            max_dev = max_dev.max(d);
        }
        assert!(max_dev < 0.02 * 6.0 && max_dev > 0.02, "{max_dev}");
    }

    #[test]
    fn grid_geometry() {
        let modes = ToyDistribution::Grid25.modes();
        assert_eq!(modes.len(), 25);
        assert!(
            modes.contains(&[-4.0, -4.0])
                && modes.contains(&[0.0, 0.0])
                && modes.contains(&[4.0, 2.0])
        );
        let mean: f32 = modes.iter().map(|m| m[0] + m[1]).sum();
        assert_eq!(mean, 0.0);
    }

    #[test]
    fn seeded() {
        let a = ToyDataset::new(ToyDistribution::Grid25, 10, 5).unwrap();
        let b = ToyDataset::new(ToyDistribution::Grid25, 10, 5).unwrap();
        assert_eq!(a.points, b.points);
    }
}
