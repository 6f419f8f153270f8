//! GAIN's losses (Yoon et al. 2018): a discriminator that tells, cell by cell, which values of
//! an imputed row were observed, and a generator that fools it on the cells it filled while
//! reproducing the cells it was shown.
//!
//! `mask` is 1 where a cell was observed and 0 where it was missing; logits and values are
//! `[B, d]`, one per cell. All three are means over every cell of the batch, as in the
//! paper's reference code.

use burn::prelude::*;

use crate::softplus;

/// `-mean(m log D + (1 - m) log(1 - D))`: binary cross-entropy of the discriminator's
/// per-cell logits against the mask.
pub fn gain_discriminator_loss(logits: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
    // -log D = softplus(-l), -log(1 - D) = softplus(l)
    let observed = softplus(logits.clone().neg()) * mask.clone();
    let imputed = softplus(logits) * mask.neg().add_scalar(1.0);
    (observed + imputed).mean()
}

/// `-mean((1 - m) log D)`: the generator's adversarial term, on the cells it imputed.
pub fn gain_generator_loss(logits: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
    (softplus(logits.neg()) * mask.neg().add_scalar(1.0)).mean()
}

/// `mean((m x - m g)^2) / mean(m)`: the squared error of the generator's output on the
/// observed cells, averaged over those cells.
pub fn observed_mse(generated: Tensor<2>, values: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
    let observed = mask.clone().mean().clamp_min(f32::MIN_POSITIVE);
    ((values - generated) * mask).powi_scalar(2).mean() / observed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::test_util::*;

    fn row(values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::<1>::from_floats(values, device).reshape([1, values.len()])
    }

    #[test]
    fn hand_values() {
        let device = device();
        let logits = row(&[2.0, -1.0], &device);
        let mask = row(&[1.0, 0.0], &device);
        // observed cell: -log sigmoid(2) = 0.126928; imputed: -log(1 - sigmoid(-1)) = 0.313262
        let d = gain_discriminator_loss(logits.clone(), mask.clone());
        assert!(close(value(d), (0.126_928 + 0.313_262) / 2.0));
        // generator: only the imputed cell, -log sigmoid(-1) = 1.313262, over 2 cells
        let g = gain_generator_loss(logits, mask.clone());
        assert!(close(value(g), 1.313_262 / 2.0));
        // mse: (0.5 - 0.25)^2 on the observed cell, the missing one ignored, / mean(m) = 0.5
        let mse = observed_mse(row(&[0.25, 9.0], &device), row(&[0.5, 0.0], &device), mask);
        assert!(close(value(mse), 0.0625));
    }
}
