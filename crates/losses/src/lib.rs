//! Adversarial losses for GAN training, as pure functions of discriminator logits.
//!
//! Every loss works on raw logits `[B, 1]` (never on probabilities), so there is no
//! sigmoid-then-log to overflow: `log sigmoid` is evaluated by the backend's stable kernel.
//! Each loss returns a one-element tensor `[1]` that the trainer calls `backward` on.
//! [`class_cross_entropy`] is the auxiliary classification term of AC-GAN; [`Penalty`] the
//! gradient penalties (WGAN-GP, R1) on the critic's input gradient; [`gain_discriminator_loss`],
//! [`gain_generator_loss`] and [`observed_mse`] the per-cell losses of GAIN's imputation;
//! [`l1_distance`] the reconstruction term of image-to-image translation. Discriminators that
//! score patches give logits `[B, P]`; every loss averages over all of them.

use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;

mod classification;
mod hinge;
mod imputation;
mod least_squares;
mod lecam;
mod minimax;
mod non_saturating;
mod penalty;
mod reconstruction;
mod wasserstein;

pub use classification::class_cross_entropy;
pub use hinge::Hinge;
pub use imputation::{gain_discriminator_loss, gain_generator_loss, observed_mse};
pub use least_squares::LeastSquares;
pub use lecam::LeCam;
pub use minimax::Minimax;
pub use non_saturating::NonSaturating;
pub use penalty::{Penalty, gradient_penalty, r1_penalty};
pub use reconstruction::l1_distance;
pub use wasserstein::Wasserstein;

/// A GAN objective: what the discriminator minimises and what the generator minimises.
pub trait AdversarialLoss: Send + Sync {
    /// Loss of the discriminator on a real batch and a generated batch.
    fn discriminator(&self, real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Tensor<1>;
    /// Loss of the generator on the discriminator's logits for a generated batch.
    fn generator(&self, fake_logits: Tensor<2>) -> Tensor<1>;
}

/// The adversarial losses by name, as a run specification stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// [`NonSaturating`].
    NonSaturating,
    /// [`Minimax`].
    Minimax,
    /// [`Hinge`].
    Hinge,
    /// [`LeastSquares`].
    LeastSquares,
    /// [`Wasserstein`].
    Wasserstein,
}

impl LossKind {
    /// The loss itself.
    pub fn build(self) -> Box<dyn AdversarialLoss> {
        match self {
            LossKind::NonSaturating => Box::new(NonSaturating),
            LossKind::Minimax => Box::new(Minimax),
            LossKind::Hinge => Box::new(Hinge),
            LossKind::LeastSquares => Box::new(LeastSquares),
            LossKind::Wasserstein => Box::new(Wasserstein),
        }
    }
}

/// `softplus(x) = log(1 + e^x) = -log sigmoid(-x)`, stable for any `x`.
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    log_sigmoid(x.neg()).neg()
}

/// Binary cross-entropy with logits against a constant label of 1 (`softplus(-x)`) or 0
/// (`softplus(x)`), averaged over the batch: PyTorch's `binary_cross_entropy_with_logits`.
pub fn bce_with_logits(logits: Tensor<2>, target_is_real: bool) -> Tensor<1> {
    let signed = if target_is_real { logits.neg() } else { logits };
    softplus(signed).mean()
}

#[cfg(test)]
pub(crate) mod test_util {
    use burn::prelude::*;

    pub fn device() -> Device {
        Device::flex()
    }

    pub fn logits(values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::<1>::from_floats(values, device).reshape([values.len(), 1])
    }

    pub fn value(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    /// d loss / d logits, for a loss built from `logits`.
    pub fn grad(values: &[f32], loss: impl Fn(Tensor<2>) -> Tensor<1>) -> Vec<f32> {
        let device = device().autodiff();
        let x = logits(values, &device).require_grad();
        let grads = loss(x.clone()).backward();
        x.grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    }

    pub fn close(a: f32, b: f32) -> bool {
        (a - b).abs() <= 1e-5 * (1.0 + b.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn softplus_is_stable_at_the_extremes() {
        let device = device();
        let x = Tensor::<1>::from_floats([-100.0, -1.0, 0.0, 1.0, 100.0], &device);
        let y = softplus(x).into_data().try_to_vec::<f32>().unwrap();
        let expect = [0.0, 0.313_261_7, std::f32::consts::LN_2, 1.313_261_7, 100.0];
        for (a, b) in y.iter().zip(expect) {
            assert!(a.is_finite() && close(*a, b), "{a} vs {b}");
        }
    }

    #[test]
    fn bce_matches_hand_values() {
        let device = device();
        // -log(sigmoid(2)) = 0.126928, -log(1 - sigmoid(-1)) = 0.313262
        let real = bce_with_logits(logits(&[2.0], &device), true);
        let fake = bce_with_logits(logits(&[-1.0], &device), false);
        assert!(close(value(real), 0.126_928));
        assert!(close(value(fake), 0.313_262));
    }
}
