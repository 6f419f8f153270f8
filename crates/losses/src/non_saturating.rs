use burn::prelude::*;

use crate::{AdversarialLoss, bce_with_logits};

/// The non-saturating GAN loss (Goodfellow et al. 2014, section 3), the usual default.
///
/// Discriminator: `-mean log D(x) - mean log(1 - D(G(z)))`, i.e. binary cross-entropy with
/// real labelled 1 and fake labelled 0. Generator: `-mean log D(G(z))` (fake labelled 1), which
/// keeps strong gradients when the discriminator rejects the samples confidently.
#[derive(Debug, Clone, Copy, Default)]
pub struct NonSaturating;

impl AdversarialLoss for NonSaturating {
    fn discriminator(&self, real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Tensor<1> {
        bce_with_logits(real_logits, true) + bce_with_logits(fake_logits, false)
    }

    fn generator(&self, fake_logits: Tensor<2>) -> Tensor<1> {
        bce_with_logits(fake_logits, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn values() {
        let device = device();
        let d = NonSaturating.discriminator(logits(&[0.0, 2.0], &device), logits(&[0.0], &device));
        // real: (ln2 + 0.126928)/2 = 0.410038 ; fake: ln2
        assert!(close(value(d), 0.410_038 + std::f32::consts::LN_2));
        let g = NonSaturating.generator(logits(&[-3.0], &device));
        assert!(close(value(g), 3.048_587)); // softplus(3)
    }

    #[test]
    fn gradient_signs() {
        // The generator's loss falls as the fake logit rises.
        assert!(
            grad(&[-3.0, 0.0, 3.0], |x| NonSaturating.generator(x))
                .iter()
                .all(|g| *g < 0.0)
        );
        // Still a strong gradient when D rejects the fake confidently (the point of the loss).
        assert!(grad(&[-10.0], |x| NonSaturating.generator(x))[0] < -0.99);
        // D pushes real logits up and fake logits down.
        let device = device();
        let real = grad(&[0.5], |x| {
            NonSaturating.discriminator(x, logits(&[0.0], &device))
        });
        let fake = grad(&[0.5], |x| {
            NonSaturating.discriminator(logits(&[0.0], &device), x)
        });
        assert!(real[0] < 0.0 && fake[0] > 0.0);
    }
}
