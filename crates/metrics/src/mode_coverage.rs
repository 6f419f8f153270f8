use crate::MetricsError;

/// How well 2-D samples cover the components of a Gaussian mixture (Metz et al. 2017,
/// "Unrolled GANs", section 3.1; Srivastava et al. 2017, VEEGAN).
#[derive(Debug, Clone, PartialEq)]
pub struct ModeCoverage {
    /// Samples per mode that fall within `radius_std` standard deviations of it.
    pub per_mode: Vec<usize>,
    /// Modes with at least `min_count` such samples.
    pub modes_covered: usize,
    /// Fraction of all samples within `radius_std` standard deviations of their nearest mode.
    pub high_quality_fraction: f64,
}

/// Assigns each sample to its nearest mode and counts those within `radius_std * std` of it.
/// A mode counts as covered when it receives at least `min_count` such samples.
pub fn mode_coverage(
    samples: &[[f32; 2]],
    modes: &[[f32; 2]],
    std: f32,
    radius_std: f32,
    min_count: usize,
) -> ModeCoverage {
    let mut per_mode = vec![0usize; modes.len()];
    let radius2 = (radius_std * std).powi(2);
    let mut good = 0usize;
    for s in samples {
        let nearest = modes
            .iter()
            .enumerate()
            .map(|(i, m)| (i, (s[0] - m[0]).powi(2) + (s[1] - m[1]).powi(2)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, d2)) = nearest
            && d2 <= radius2
        {
            per_mode[i] += 1;
            good += 1;
        }
    }
    let modes_covered = per_mode.iter().filter(|&&n| n >= min_count.max(1)).count();
    let high_quality_fraction = if samples.is_empty() {
        0.0
    } else {
        good as f64 / samples.len() as f64
    };
    ModeCoverage {
        per_mode,
        modes_covered,
        high_quality_fraction,
    }
}

/// How samples labelled with discrete modes (stacked MNIST's 1,000 triples of digits) spread
/// over them (Metz et al. 2017; Lin et al. 2018).
#[derive(Debug, Clone, PartialEq)]
pub struct ModeCount {
    /// Modes at least one sample falls in.
    pub covered: usize,
    /// KL(p || uniform) of the samples' distribution over the modes, in nats: 0 when every
    /// mode is equally frequent, `ln(modes)` when one mode takes every sample.
    pub kl_to_uniform: f64,
}

/// Counts the modes among `0..modes` that `labels` cover, and the KL divergence of their
/// distribution from the uniform one, `sum_m p_m ln(p_m * modes)`.
pub fn count_modes(labels: &[u32], modes: usize) -> Result<ModeCount, MetricsError> {
    if labels.is_empty() || modes == 0 {
        return Err(MetricsError::Empty);
    }
    let mut counts = vec![0usize; modes];
    for (row, &label) in labels.iter().enumerate() {
        *counts
            .get_mut(label as usize)
            .ok_or(MetricsError::NotAMode { row, label, modes })? += 1;
    }
    let n = labels.len() as f64;
    let kl_to_uniform = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            p * (p * modes as f64).ln()
        })
        .sum();
    Ok(ModeCount {
        covered: counts.iter().filter(|&&c| c > 0).count(),
        kl_to_uniform,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_counts_and_their_divergence_from_uniform() {
        let all: Vec<u32> = (0..1000).chain(0..1000).collect();
        let even = count_modes(&all, 1000).unwrap();
        assert_eq!(even.covered, 1000);
        assert!(even.kl_to_uniform.abs() < 1e-12);
        let one = count_modes(&[7; 50], 1000).unwrap();
        assert_eq!(one.covered, 1);
        assert!((one.kl_to_uniform - 1000f64.ln()).abs() < 1e-12);
        // Half the samples in one mode, half in another of four: ln 2.
        let two = count_modes(&[0, 0, 3, 3], 4).unwrap();
        assert_eq!(two.covered, 2);
        assert!((two.kl_to_uniform - 2f64.ln()).abs() < 1e-12);
        assert!(count_modes(&[4], 4).is_err());
        assert_eq!(count_modes(&[], 4), Err(MetricsError::Empty));
    }

    const MODES: [[f32; 2]; 3] = [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]];

    #[test]
    fn counts_close_samples_only() {
        let samples = [
            [0.01, 0.0], // mode 0, 0.5 std
            [2.0, 0.05], // mode 1, 2.5 std
            [2.0, 0.07], // mode 1, 3.5 std: too far
            [1.0, 1.0],  // between modes
            [0.0, 1.99], // mode 2
        ];
        let c = mode_coverage(&samples, &MODES, 0.02, 3.0, 1);
        assert_eq!(c.per_mode, vec![1, 1, 1]);
        assert_eq!(c.modes_covered, 3);
        assert!((c.high_quality_fraction - 0.6).abs() < 1e-12);
    }

    #[test]
    fn min_count_and_collapse() {
        let collapsed = vec![[2.0, 0.0]; 50];
        let c = mode_coverage(&collapsed, &MODES, 0.02, 3.0, 5);
        assert_eq!(c.modes_covered, 1);
        assert_eq!(c.high_quality_fraction, 1.0);
        let c = mode_coverage(&[], &MODES, 0.02, 3.0, 1);
        assert_eq!((c.modes_covered, c.high_quality_fraction), (0, 0.0));
    }
}
