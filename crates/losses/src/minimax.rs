use burn::prelude::*;

use crate::{AdversarialLoss, bce_with_logits, softplus};

/// The original minimax GAN loss (Goodfellow et al. 2014, equation 1).
///
/// Discriminator: as [`NonSaturating`](crate::NonSaturating). Generator: minimises
/// `mean log(1 - D(G(z))) = -mean softplus(logit)`, whose gradient vanishes when the
/// discriminator rejects the samples confidently ("saturates").
#[derive(Debug, Clone, Copy, Default)]
pub struct Minimax;

impl AdversarialLoss for Minimax {
    fn discriminator(&self, real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Tensor<1> {
        bce_with_logits(real_logits, true) + bce_with_logits(fake_logits, false)
    }

    fn generator(&self, fake_logits: Tensor<2>) -> Tensor<1> {
        // log(1 - sigmoid(l)) = -softplus(l)
        softplus(fake_logits).mean().neg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn values() {
        let device = device();
        let g = Minimax.generator(logits(&[0.0, 1.0], &device));
        // -(ln2 + 1.313262)/2
        assert!(close(value(g), -(std::f32::consts::LN_2 + 1.313_262) / 2.0));
    }

    #[test]
    fn gradient_signs_and_saturation() {
        let g = grad(&[-10.0, 0.0, 3.0], |x| Minimax.generator(x));
        assert!(g.iter().all(|g| *g < 0.0), "{g:?}");
        // Saturation: almost no gradient where D confidently rejects the fake.
        assert!(g[0].abs() < 1e-4, "{g:?}");
    }
}
