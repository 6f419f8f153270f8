use burn::prelude::*;

use crate::AdversarialLoss;

/// The least-squares GAN loss (Mao et al. 2017, LSGAN) with targets a = 0, b = c = 1.
///
/// Discriminator: `mean (D(x) - 1)^2 / 2 + mean D(G(z))^2 / 2`. Generator:
/// `mean (D(G(z)) - 1)^2 / 2`. The logits are used as the scores directly.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastSquares;

impl AdversarialLoss for LeastSquares {
    fn discriminator(&self, real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Tensor<1> {
        let real = real_logits.sub_scalar(1.0).square().mean();
        let fake = fake_logits.square().mean();
        (real + fake).mul_scalar(0.5)
    }

    fn generator(&self, fake_logits: Tensor<2>) -> Tensor<1> {
        fake_logits.sub_scalar(1.0).square().mean().mul_scalar(0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn values() {
        let device = device();
        // real: ((3-1)^2)/2 = 2 ; fake: (2^2)/2 = 2
        let d = LeastSquares.discriminator(logits(&[3.0], &device), logits(&[2.0], &device));
        assert!(close(value(d), 4.0));
        assert!(close(
            value(LeastSquares.generator(logits(&[0.0], &device))),
            0.5
        ));
    }

    #[test]
    fn gradient_signs() {
        let g = grad(&[0.0, 2.0], |x| LeastSquares.generator(x));
        assert!(g[0] < 0.0 && g[1] > 0.0, "{g:?}"); // pulled towards the real target 1
    }
}
