use burn::prelude::*;

use crate::AdversarialLoss;

/// The hinge loss (Lim & Ye 2017; Miyato et al. 2018, SN-GAN).
///
/// Discriminator: `mean relu(1 - D(x)) + mean relu(1 + D(G(z)))`. Generator: `-mean D(G(z))`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hinge;

impl AdversarialLoss for Hinge {
    fn discriminator(&self, real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Tensor<1> {
        let real = real_logits.neg().add_scalar(1.0).clamp_min(0.0).mean();
        let fake = fake_logits.add_scalar(1.0).clamp_min(0.0).mean();
        real + fake
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
    fn values() {
        let device = device();
        // real: relu(1-0.5)=0.5, relu(1-2)=0 -> 0.25 ; fake: relu(1-2)=0, relu(1+0)=1 -> 0.5
        let d = Hinge.discriminator(logits(&[0.5, 2.0], &device), logits(&[-2.0, 0.0], &device));
        assert!(close(value(d), 0.75));
        assert!(close(
            value(Hinge.generator(logits(&[1.0, 3.0], &device))),
            -2.0
        ));
    }

    #[test]
    fn gradient_signs() {
        assert!(
            grad(&[0.0, 5.0], |x| Hinge.generator(x))
                .iter()
                .all(|g| *g < 0.0)
        );
        let device = device();
        let real = grad(&[0.0, 2.0], |x| {
            Hinge.discriminator(x, logits(&[-5.0], &device))
        });
        assert!(real[0] < 0.0 && real[1] == 0.0, "{real:?}"); // no push beyond the margin
    }
}
