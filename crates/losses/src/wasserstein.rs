use burn::prelude::*;

use crate::AdversarialLoss;

/// The Wasserstein loss (Arjovsky et al. 2017): the critic's raw scores, no sigmoid.
///
/// Critic: `mean D(G(z)) - mean D(x)`. Generator: `-mean D(G(z))`. The critic must be kept
/// Lipschitz, by a [`Penalty::Gradient`](crate::Penalty) (WGAN-GP) or by clipping its weights.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wasserstein;

impl AdversarialLoss for Wasserstein {
    fn discriminator(&self, real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Tensor<1> {
        fake_logits.mean() - real_logits.mean()
    }

    fn generator(&self, fake_logits: Tensor<2>) -> Tensor<1> {
        fake_logits.mean().neg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn values_and_gradient_signs() {
        let device = device();
        let d =
            Wasserstein.discriminator(logits(&[0.5, 2.5], &device), logits(&[-2.0, 1.0], &device));
        assert!(close(value(d), -0.5 - 1.5));
        assert!(close(
            value(Wasserstein.generator(logits(&[1.0, 3.0], &device))),
            -2.0
        ));
        let real = grad(&[0.0, 2.0], |x| {
            Wasserstein.discriminator(x, logits(&[-5.0], &device))
        });
        assert!(real.iter().all(|g| (*g + 0.5).abs() < 1e-6), "{real:?}");
        assert!(
            grad(&[0.0, 5.0], |x| Wasserstein.generator(x))
                .iter()
                .all(|g| *g < 0.0)
        );
    }
}
