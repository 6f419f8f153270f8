//! LeCam regularisation (Tseng et al. 2021): keeps the discriminator's scores on real items
//! near its recent average score on generated ones and vice versa, which bounds how far the
//! two can drift apart when data is scarce.

use burn::prelude::*;

/// The LeCam term's settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LeCam {
    /// The term's weight in the discriminator's loss (`lambda`; 0.3 in the paper's BigGAN runs,
    /// 0.01 for StyleGAN2).
    pub weight: f32,
    /// Decay of the moving averages of the scores (0.99 in the paper).
    pub decay: f32,
}

impl LeCam {
    /// The paper's settings for BigGAN-style training: weight 0.3, decay 0.99.
    pub const DEFAULT: Self = Self {
        weight: 0.3,
        decay: 0.99,
    };

    /// The weighted term for the scores `real` and `fake` `[B, 1]` given the moving averages
    /// `anchors` `[2]` (the real scores' first, the generated scores' second):
    /// `weight * (mean relu(D(x) - avg_fake)^2 + mean relu(avg_real - D(G(z)))^2)`, the form of
    /// the authors' code.
    pub fn value(&self, real: Tensor<2>, fake: Tensor<2>, anchors: Tensor<1>) -> Tensor<1> {
        let avg_real = anchors.clone().narrow(0, 0, 1).reshape([1, 1]);
        let avg_fake = anchors.narrow(0, 1, 1).reshape([1, 1]);
        let real_term = (real - avg_fake).clamp_min(0.0).powi_scalar(2).mean();
        let fake_term = (avg_real - fake).clamp_min(0.0).powi_scalar(2).mean();
        (real_term + fake_term).mul_scalar(self.weight)
    }

    /// The moving averages `[2]` after a step whose scores were `real` and `fake` (detached).
    pub fn advance(&self, anchors: Tensor<1>, real: Tensor<2>, fake: Tensor<2>) -> Tensor<1> {
        let means = Tensor::cat(vec![real.detach().mean(), fake.detach().mean()], 0); // [2]
        anchors.mul_scalar(self.decay) + means.mul_scalar(1.0 - self.decay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn values_and_averages() {
        let device = device();
        let lecam = LeCam {
            weight: 0.5,
            decay: 0.9,
        };
        let anchors = Tensor::<1>::from_floats([1.0, -1.0], &device);
        // real - avg_fake = [1, 3] -> squares 1, 9, mean 5; avg_real - fake = [1 - 2, 1 - 0]
        // -> relu [0, 1] -> mean 0.5; (5 + 0.5) * 0.5.
        let value = lecam.value(
            logits(&[0.0, 2.0], &device),
            logits(&[2.0, 0.0], &device),
            anchors.clone(),
        );
        assert!(close(super::super::test_util::value(value), 2.75));
        let next = lecam.advance(
            anchors,
            logits(&[0.0, 2.0], &device),
            logits(&[2.0, 0.0], &device),
        );
        let next = next.into_data().try_to_vec::<f32>().unwrap();
        assert!(
            close(next[0], 0.9 + 0.1) && close(next[1], -0.9 + 0.1),
            "{next:?}"
        );
    }
}
