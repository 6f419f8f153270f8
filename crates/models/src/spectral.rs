//! Spectral normalisation (Miyato et al. 2018): every weight matrix divided by an estimate of
//! its largest singular value, so each layer is at most 1-Lipschitz.
//!
//! Built on burn's parameter reparameterisation: [`SpectralNorm`] is attached to each weight
//! of rank 2 or more (Linear `[in, out]`, convolution `[out, in, k, k]` viewed as
//! `[out, in * k * k]`, class embeddings), so every reader of `param.val()` (burn's layers,
//! the flex kernels, the hand-written input gradient) sees `W / sigma(W)`, while the optimiser
//! updates the stored `W`. `sigma(W) = u^T W v` with `v = normalize(W^T u)`,
//! `u' = normalize(W v)` and `u` kept between calls: one power iteration per use, which
//! advances `u` only when training (on an autodiff device), as PyTorch's
//! `torch.nn.utils.spectral_norm` does in training mode. `u` is part of the module's record,
//! so checkpoints keep it.

use burn::module::{
    Module, ModuleVisitor, Param, Reparameterization, Reparameterizer, RunningState,
};
use burn::prelude::*;

use crate::init::WeightInit;

/// Added to norms before dividing by them.
const EPSILON: f64 = 1e-12;

/// The power-iteration state of one spectrally normalised weight.
#[derive(Module, Debug)]
pub struct SpectralNorm {
    /// The estimate of the leading left singular vector, `[rows]`.
    u: RunningState<Tensor<1>>,
}

impl Reparameterization for SpectralNorm {
    const NAME: &'static str = "spectral_norm";

    fn apply<const D: usize>(&self, base: Tensor<D>) -> Tensor<D> {
        let shape = base.shape();
        let rows = shape.dims::<D>()[0];
        let matrix = base.clone().reshape([rows, shape.num_elements() / rows]); // [rows, cols]
        let fixed = matrix.clone().detach();
        let u = self.u.value_sync().reshape([rows, 1]);
        let v = normalize(fixed.clone().transpose().matmul(u)); // [cols, 1]
        let u = normalize(fixed.matmul(v.clone())); // [rows, 1]
        if base.is_autodiff() {
            self.u.update(u.clone().reshape([rows]));
            // Merged at once, so the record always holds the latest estimate.
            let _ = self.u.value_sync();
        }
        let sigma = u.transpose().matmul(matrix.matmul(v)); // [1, 1], differentiable in W
        base / sigma.reshape([1; D])
    }
}

/// `x / ||x||`, for a column `[n, 1]`.
fn normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum().sqrt().add_scalar(EPSILON);
    x / norm.reshape([1, 1])
}

/// Attaches a [`SpectralNorm`] to every weight of rank 2 or more, its `u` drawn from `init`.
pub(crate) struct Normalizer<'a> {
    init: &'a mut WeightInit,
}

impl<'a> Normalizer<'a> {
    pub(crate) fn new(init: &'a mut WeightInit) -> Self {
        Self { init }
    }
}

impl Reparameterizer for Normalizer<'_> {
    type Reparam = SpectralNorm;

    fn reparameterize<const D: usize>(
        &mut self,
        _path: &str,
        param: Param<Tensor<D>>,
    ) -> (Param<Tensor<D>>, Option<SpectralNorm>) {
        if D < 2 {
            return (param, None);
        }
        let value = param.base();
        let rows = value.dims()[0];
        let u = self.init.unit_vector(rows, &value.device());
        (
            param,
            Some(SpectralNorm {
                u: RunningState::new(u),
            }),
        )
    }
}

/// Whether every weight of rank 2 or more of `module` is spectrally normalised.
pub fn is_spectrally_normalized<M: Module>(module: &M) -> bool {
    struct Check {
        weights: usize,
        normalized: usize,
    }
    impl ModuleVisitor for Check {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            if name == SpectralNorm::NAME {
                self.normalized += 1;
            }
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            if D >= 2 {
                self.weights += 1;
            }
        }
    }
    let mut check = Check {
        weights: 0,
        normalized: 0,
    };
    module.visit(&mut check);
    check.weights > 0 && check.weights == check.normalized
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// Training steps the power iteration: the normalised weight's largest singular value
    /// approaches 1 (for `diag(3, 1)` after a rotation, exactly `W / 3`).
    #[test]
    fn normalises_to_unit_spectral_norm_and_trains_through_sigma() {
        let device = Device::flex().autodiff();
        let mut init = WeightInit::new(1);
        let mut linear = LinearConfig::new(2, 2).init(&device);
        // A matrix with singular values 3 and 1.
        let w = Tensor::<2>::from_floats([[2.0, 1.0], [1.0, 2.0]], &device);
        linear.weight = Param::from_tensor(w.clone());
        let linear = linear.apply_reparameterization(Normalizer::new(&mut init));
        assert!(is_spectrally_normalized(&linear));
        let mut last = Vec::new();
        for _ in 0..30 {
            last = values(linear.weight.val());
        }
        let expected = values(w / 3.0);
        for (a, b) in last.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-5, "{last:?} vs {expected:?}");
        }
        // The gradient reaches the stored weight through sigma: d (W / sigma)_00 / dW =
        // e_0 e_0^T / sigma - W_00 / sigma^2 * u v^T, with u = v = (1, 1) / sqrt(2).
        let corner = linear.weight.val().slice([0..1, 0..1]).sum();
        let g = values(linear.weight.base().grad(&corner.backward()).unwrap());
        let expected = [
            1.0 / 3.0 - 2.0 / 18.0,
            -2.0 / 18.0,
            -2.0 / 18.0,
            -2.0 / 18.0,
        ];
        for (a, b) in g.iter().zip(expected) {
            assert!((a - b).abs() < 1e-4, "{g:?} vs {expected:?}");
        }
        // Outside training the estimate stays where it is.
        let frozen = linear.valid();
        let before = values(frozen.weight.val());
        assert_eq!(before, values(frozen.weight.val()));
    }
}
