//! Inception Score (Salimans et al. 2016): `exp(E_x KL(p(y|x) || p(y)))` over class
//! probabilities, averaged over splits as the paper's code does.

use serde::{Deserialize, Serialize};

use crate::{Features, MetricsError};

/// Inception Score's mean and standard deviation over splits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InceptionScore {
    /// Mean score over the splits.
    pub mean: f64,
    /// Standard deviation of the splits' scores (population).
    pub std: f64,
}

/// The score of class probabilities `probabilities` (one row per sample, rows summing to 1),
/// in `splits` consecutive splits (10 in the paper).
pub fn inception_score(
    probabilities: &Features,
    splits: usize,
) -> Result<InceptionScore, MetricsError> {
    let n = probabilities.rows();
    let splits = splits.clamp(1, n);
    for row in 0..n {
        let p = probabilities.row(row);
        let total: f64 = p.iter().sum();
        if p.iter().any(|&v| v < 0.0) || (total - 1.0).abs() > 1e-3 {
            return Err(MetricsError::NotProbabilities { row });
        }
    }
    let scores: Vec<f64> = (0..splits)
        .map(|s| split_score(probabilities, s * n / splits..(s + 1) * n / splits))
        .collect();
    let mean = scores.iter().sum::<f64>() / splits as f64;
    let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / splits as f64;
    Ok(InceptionScore {
        mean,
        std: var.sqrt(),
    })
}

fn split_score(p: &Features, rows: std::ops::Range<usize>) -> f64 {
    let count = rows.len() as f64;
    let mut marginal = vec![0.0; p.dim()];
    for r in rows.clone() {
        for (m, v) in marginal.iter_mut().zip(p.row(r)) {
            *m += v / count;
        }
    }
    let mean_kl: f64 = rows
        .map(|r| {
            p.row(r)
                .iter()
                .zip(&marginal)
                .filter(|&(&v, _)| v > 0.0)
                .map(|(v, m)| v * (v.ln() - m.ln()))
                .sum::<f64>()
        })
        .sum::<f64>()
        / count;
    mean_kl.exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confident_and_balanced_scores_the_class_count() {
        // Four samples, each certain of a different one of four classes.
        let mut values = vec![0.0; 16];
        for i in 0..4 {
            values[i * 4 + i] = 1.0;
        }
        let is = inception_score(&Features::new(values, 4).unwrap(), 1).unwrap();
        assert!((is.mean - 4.0).abs() < 1e-12, "{is:?}");
    }

    #[test]
    fn uniform_predictions_score_one() {
        let is = inception_score(&Features::new(vec![0.25; 16], 4).unwrap(), 2).unwrap();
        assert!((is.mean - 1.0).abs() < 1e-12 && is.std < 1e-12, "{is:?}");
    }

    #[test]
    fn rows_that_are_not_probabilities_are_refused() {
        let err = inception_score(&Features::new(vec![0.5, 0.6], 2).unwrap(), 1);
        assert_eq!(err, Err(MetricsError::NotProbabilities { row: 0 }));
    }
}
