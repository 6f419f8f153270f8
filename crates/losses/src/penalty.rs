//! Gradient penalties on the critic's input gradient.
//!
//! Each penalty is a function of `grad` `[B, N]`, the gradient of each item's score with
//! respect to that item's input (flattened), which the critic computes with ordinary tensor
//! operations (`Discriminator::input_gradient` in `ganforge-models`), so the penalty's
//! backward pass reaches the critic's weights.

use burn::prelude::*;

/// Added under the square root of a norm, so its gradient stays finite at zero.
const NORM_EPSILON: f64 = 1e-12;

/// A penalty on the critic's input gradient, with its weight.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Penalty {
    /// WGAN-GP (Gulrajani et al. 2017): `weight * mean (||grad||_2 - 1)^2` on random
    /// interpolates between real and generated items.
    Gradient {
        /// `lambda` (10 in the paper).
        weight: f32,
    },
    /// R1 (Mescheder et al. 2018): `weight / 2 * mean ||grad||_2^2` on real items, applied
    /// every `every` discriminator steps with its weight multiplied by `every` (lazy
    /// regularisation, as StyleGAN2).
    R1 {
        /// `gamma`.
        weight: f32,
        /// Discriminator steps between applications (1: every step).
        #[serde(default = "one")]
        every: u32,
    },
}

impl Penalty {
    /// Whether the penalty is taken on interpolates between real and generated items (else on
    /// the real items).
    pub fn on_interpolates(&self) -> bool {
        matches!(self, Penalty::Gradient { .. })
    }

    /// Its weight.
    pub fn weight(&self) -> f32 {
        match *self {
            Penalty::Gradient { weight } | Penalty::R1 { weight, .. } => weight,
        }
    }

    /// Discriminator steps between applications.
    pub fn every(&self) -> u32 {
        match *self {
            Penalty::Gradient { .. } => 1,
            Penalty::R1 { every, .. } => every.max(1),
        }
    }

    /// Whether the discriminator step `step` (counted from 0) applies the penalty.
    pub fn applies_at(&self, step: u64) -> bool {
        step.is_multiple_of(u64::from(self.every()))
    }

    /// The weighted penalty for the input gradient `grad` `[B, N]`, as a one-element tensor.
    pub fn value(&self, grad: Tensor<2>) -> Tensor<1> {
        match *self {
            Penalty::Gradient { weight } => gradient_penalty(grad).mul_scalar(weight),
            Penalty::R1 { weight, every } => {
                r1_penalty(grad).mul_scalar(weight / 2.0 * every.max(1) as f32)
            }
        }
    }
}

fn one() -> u32 {
    1
}

/// `mean over the batch of (||grad_b||_2 - 1)^2`, unweighted.
pub fn gradient_penalty(grad: Tensor<2>) -> Tensor<1> {
    let norm = grad
        .powi_scalar(2)
        .sum_dim(1)
        .add_scalar(NORM_EPSILON)
        .sqrt(); // [B, 1]
    norm.sub_scalar(1.0).powi_scalar(2).mean()
}

/// `mean over the batch of ||grad_b||_2^2`, unweighted.
pub fn r1_penalty(grad: Tensor<2>) -> Tensor<1> {
    grad.powi_scalar(2).sum_dim(1).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    fn grads(rows: [[f32; 2]; 2]) -> Tensor<2> {
        Tensor::from_floats(rows, &device())
    }

    #[test]
    fn values() {
        // Norms 5 and 1: (5 - 1)^2 and 0 -> mean 8; squared norms 25 and 1 -> mean 13.
        let g = || grads([[3.0, 4.0], [0.6, 0.8]]);
        assert!(close(value(gradient_penalty(g())), 8.0));
        assert!(close(value(r1_penalty(g())), 13.0));
        assert!(close(
            value(Penalty::Gradient { weight: 10.0 }.value(g())),
            80.0
        ));
        let r1 = |every| Penalty::R1 {
            weight: 10.0,
            every,
        };
        assert!(close(value(r1(1).value(g())), 65.0));
        assert!(close(value(r1(4).value(g())), 65.0 * 4.0));
        assert!(r1(4).applies_at(0) && r1(4).applies_at(8) && !r1(4).applies_at(3));
        assert!(r1(1).applies_at(3) && Penalty::Gradient { weight: 1.0 }.applies_at(3));
    }

    #[test]
    fn the_gradient_penalty_is_finite_at_a_zero_gradient() {
        let g = Tensor::<2>::zeros([2, 2], &device().autodiff()).require_grad();
        let gradients = gradient_penalty(g.clone()).backward();
        let d = g.grad(&gradients).unwrap();
        let values = d.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
    }
}
