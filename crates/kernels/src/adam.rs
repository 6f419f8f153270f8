//! Adam (Kingma & Ba, 2015) with one fused pass per parameter on flex.
//!
//! burn's `Adam` updates a parameter with about a dozen whole-tensor operations (scale and add
//! each moment, square, square root, divide, scale, subtract), each a pass over memory with
//! its own allocation. [`FusedAdam`] does the same arithmetic, in the same order and in `f32`,
//! in one parallel pass over the parameter, its gradient and both moments, taking the
//! tensors' host buffers without copies. On any other backend (or dtype) it defers to burn's `Adam`, so
//! the results agree everywhere and its state is burn's [`AdamState`]: checkpoints written by
//! either optimiser load into the other.

use burn::optim::{Adam, AdamConfig, AdamState, LearningRate, Optimizer};
use burn::prelude::*;
#[cfg(feature = "flex")]
use burn::tensor::DType;

/// Elements per parallel task of the fused optimisers: large enough to amortise scheduling,
/// small enough to split the parameters of a small layer between threads.
#[cfg(feature = "flex")]
pub(crate) const CHUNK: usize = 1 << 15;

/// Whether a fused optimiser steps `tensor` with `grad` itself: `f32` tensors on flex. The
/// others go to burn's optimiser.
#[cfg(feature = "flex")]
pub(crate) fn fused_applies<const D: usize>(tensor: &Tensor<D>, grad: &Tensor<D>) -> bool {
    tensor.device() == Device::flex() && tensor.dtype() == DType::F32 && grad.dtype() == DType::F32
}

/// Adam whose update on flex is one fused pass (see the module docs).
#[derive(Clone)]
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    burn_adam: Adam,
}

impl FusedAdam {
    /// Adam with the given decay rates and epsilon (no weight decay, no AMSGrad).
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Self {
        let burn_adam = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .build();
        Self {
            beta_1,
            beta_2,
            epsilon,
            burn_adam,
        }
    }
}

/// The coefficients of one Adam step at `time` (1-based), as burn computes them.
#[cfg(feature = "flex")]
struct StepFactors {
    beta_1: f32,
    beta_2: f32,
    /// `sqrt(1 - beta_2^t) / (1 - beta_1^t)`
    combined: f32,
    /// `epsilon * sqrt(1 - beta_2^t)`
    epsilon: f32,
    lr: f32,
}

#[cfg(feature = "flex")]
impl StepFactors {
    fn update(&self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let (b1, b2) = (self.beta_1, self.beta_2);
        let (c1, c2) = (1.0 - b1, 1.0 - b2);
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m = *m * b1 + g * c1;
            *v = *v * b2 + (g * g) * c2;
            let step = (*m * self.combined) / (v.sqrt() + self.epsilon);
            *p -= step * self.lr;
        }
    }
}

#[cfg(feature = "flex")]
impl FusedAdam {
    /// One step as a single parallel pass over the parameter, its gradient and both moments.
    fn fused_step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, Option<AdamState<D>>) {
        use burn::optim::AdaptiveMomentumState;
        use rayon::prelude::*;

        let device = tensor.device();
        let (time, mut moment_1, mut moment_2) = match state {
            Some(AdamState { momentum }) => (
                momentum.time + 1,
                momentum.moment_1.into_data(),
                momentum.moment_2.into_data(),
            ),
            None => {
                let zeros = TensorData::zeros::<f32, _>(tensor.shape());
                (1, zeros.clone(), zeros)
            }
        };
        let mut param = tensor.into_data();
        let grad = grad.into_data();
        let t = time as i32;
        let bias_correction_2 = (1.0 - self.beta_2.powi(t)).sqrt();
        let factors = StepFactors {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            combined: bias_correction_2 / (1.0 - self.beta_1.powi(t)),
            epsilon: self.epsilon * bias_correction_2,
            lr: lr as f32,
        };
        // All four are contiguous f32 buffers of the parameter's shape (checked above and by
        // construction); a failure here would be a burn invariant broken, reported loudly.
        let slices = (
            param.as_mut_slice::<f32>(),
            grad.as_slice::<f32>(),
            moment_1.as_mut_slice::<f32>(),
            moment_2.as_mut_slice::<f32>(),
        );
        match slices {
            (Ok(p), Ok(g), Ok(m), Ok(v))
                if [g.len(), m.len(), v.len()].iter().all(|&n| n == p.len()) =>
            {
                p.par_chunks_mut(CHUNK)
                    .zip(g.par_chunks(CHUNK))
                    .zip(m.par_chunks_mut(CHUNK))
                    .zip(v.par_chunks_mut(CHUNK))
                    .for_each(|(((p, g), m), v)| factors.update(p, g, m, v));
            }
            _ => panic!("fused Adam: parameter, gradient and moments differ in size or dtype"),
        }
        let state = AdamState::new(AdaptiveMomentumState::new(
            time,
            Tensor::from_data(moment_1, &device),
            Tensor::from_data(moment_2, &device),
        ));
        (Tensor::from_data(param, &device), Some(state))
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        #[cfg(feature = "flex")]
        if fused_applies(&tensor, &grad) {
            return self.fused_step(lr, tensor, grad, state);
        }
        self.burn_adam.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}

#[cfg(all(test, feature = "flex"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use burn::optim::ModuleOptimizer;

    /// `steps` steps on a fixed parameter and fixed gradients (from a fixed sequence, not the
    /// device's generator, which parallel tests share).
    fn run<O>(optimizer: O, steps: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>)
    where
        O: Optimizer<State<2> = AdamState<2>>,
    {
        let device = Device::flex();
        let shape = [67, 1031];
        let draw = |seed: usize, scale: f32| {
            let values = crate::test_data::ramp(67 * 1031, seed, 0.02 * scale);
            Tensor::<2>::from_data(TensorData::new(values, shape), &device)
        };
        let mut param = draw(3, 1.0);
        let mut state = None;
        for step in 0..steps {
            let grad = draw(11 * step + 5, 1.0 + step as f32);
            (param, state) = optimizer.step(2e-3, param, grad, state);
        }
        let state = state.expect("a state after a step");
        let values = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().expect("f32 data");
        (
            values(param),
            values(state.momentum.moment_1),
            values(state.momentum.moment_2),
        )
    }

    #[test]
    fn matches_burn_adam_on_flex() {
        let config = AdamConfig::new().with_beta_1(0.5).with_beta_2(0.999);
        let expected = run(config.build(), 5);
        let fused = run(FusedAdam::new(0.5, 0.999, 1e-5), 5);
        for (name, a, b) in [
            ("parameter", &expected.0, &fused.0),
            ("moment 1", &expected.1, &fused.1),
            ("moment 2", &expected.2, &fused.2),
        ] {
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs() / x.abs().max(1e-3))
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "{name}: relative difference {worst}");
        }
        // The parameters moved: the comparison is not between two untouched tensors.
        assert_ne!(expected.0, run(config.build(), 1).0);
    }

    #[test]
    fn state_is_burn_adams_and_resumes_either_way() {
        // Two fused steps, then a burn step on the fused state, equal two fused + one fused.
        let device = Device::flex().autodiff();
        let linear = burn::nn::LinearConfig::new(9, 4).init(&device);
        let grads_of = |linear: &burn::nn::Linear| {
            let x = Tensor::<2>::ones([3, 9], &device);
            let loss = linear.forward(x).powf_scalar(2.0).sum();
            burn::optim::GradientsParams::from_grads(loss.backward(), linear)
        };
        let mut fused = ModuleOptimizer::from(FusedAdam::new(0.5, 0.999, 1e-8));
        let mut model = linear;
        for _ in 0..2 {
            let grads = grads_of(&model);
            model = fused.step(1e-2, model, grads);
        }
        let record = fused.into_bytes().expect("optimizer state serialises");
        let mut burn_adam = ModuleOptimizer::from(
            AdamConfig::new()
                .with_beta_1(0.5)
                .with_beta_2(0.999)
                .with_epsilon(1e-8)
                .build(),
        )
        .from_bytes(record)
        .expect("fused state loads into burn's Adam");
        let grads = grads_of(&model);
        let by_burn = burn_adam.step(1e-2, model.clone(), grads);
        let grads = grads_of(&model);
        let by_fused = fused.step(1e-2, model, grads);
        let w = |m: &burn::nn::Linear| m.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let (a, b) = (w(&by_burn), w(&by_fused));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-6 * x.abs().max(1.0), "{x} vs {y}");
        }
    }
}
