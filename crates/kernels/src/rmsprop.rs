//! RMSProp (Tieleman & Hinton, 2012), as the original WGAN trains with it, with one fused pass
//! per parameter on flex.
//!
//! burn's `RmsProp` updates a parameter with about eight whole-tensor operations (square,
//! scale and add the average, square root, add epsilon, divide, scale, subtract), each a
//! single-threaded pass over memory with its own allocation. [`FusedRmsProp`] does the same
//! arithmetic, in the same order and in `f32`, in one parallel pass over the parameter, its
//! gradient and the average of squared gradients. It covers the plain form (no momentum, not
//! centred, no weight decay); on any other backend (or dtype) it defers to burn's `RmsProp`,
//! and its state is burn's [`RmsPropState`], so checkpoints written by either load into the
//! other.

#[cfg(feature = "flex")]
use crate::adam::{CHUNK, fused_applies};
use burn::optim::{LearningRate, Optimizer, RmsProp, RmsPropConfig, RmsPropState};
use burn::prelude::*;

/// RMSProp without momentum whose update on flex is one fused pass (see the module docs).
#[derive(Clone)]
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
pub struct FusedRmsProp {
    alpha: f32,
    epsilon: f32,
    burn_rmsprop: RmsProp,
}

impl FusedRmsProp {
    /// RMSProp with the given decay of the squared-gradient average and epsilon (added to its
    /// square root), without momentum, centring or weight decay.
    pub fn new(alpha: f32, epsilon: f32) -> Self {
        let burn_rmsprop = RmsPropConfig::new()
            .with_alpha(alpha)
            .with_epsilon(epsilon)
            .with_momentum(0.0)
            .build();
        Self {
            alpha,
            epsilon,
            burn_rmsprop,
        }
    }
}

#[cfg(feature = "flex")]
impl FusedRmsProp {
    /// `avg = alpha avg + (1 - alpha) g^2` (from zero) and `p -= lr g / (sqrt(avg) +
    /// epsilon)`, over one chunk.
    fn update(&self, lr: f32, p: &mut [f32], g: &[f32], avg: &mut [f32]) {
        let (alpha, keep) = (self.alpha, 1.0 - self.alpha);
        for ((p, &g), avg) in p.iter_mut().zip(g).zip(avg.iter_mut()) {
            *avg = *avg * alpha + (g * g) * keep;
            *p -= (g / (avg.sqrt() + self.epsilon)) * lr;
        }
    }

    /// One step as a single parallel pass over the parameter, its gradient and the average.
    fn fused_step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<RmsPropState<D>>,
    ) -> (Tensor<D>, Option<RmsPropState<D>>) {
        use burn::optim::{CenteredState, SquareAvgState};
        use rayon::prelude::*;

        let device = tensor.device();
        let mut average = match state {
            Some(state) => state.square_avg.square_avg.into_data(),
            None => TensorData::zeros::<f32, _>(tensor.shape()),
        };
        let mut param = tensor.into_data();
        let grad = grad.into_data();
        let slices = (
            param.as_mut_slice::<f32>(),
            grad.as_slice::<f32>(),
            average.as_mut_slice::<f32>(),
        );
        match slices {
            (Ok(p), Ok(g), Ok(a)) if g.len() == p.len() && a.len() == p.len() => {
                p.par_chunks_mut(CHUNK)
                    .zip(g.par_chunks(CHUNK))
                    .zip(a.par_chunks_mut(CHUNK))
                    .for_each(|((p, g), a)| self.update(lr as f32, p, g, a));
            }
            _ => panic!("fused RMSProp: parameter, gradient and average differ in size or dtype"),
        }
        // burn keeps the average twice (as the square average and as the centred state's
        // denominator); here both are the same tensor.
        let average: Tensor<D> = Tensor::from_data(average, &device);
        let state = RmsPropState::new(
            SquareAvgState::new(average.clone()),
            CenteredState::new(None, average),
            None,
        );
        (Tensor::from_data(param, &device), Some(state))
    }
}

impl Optimizer for FusedRmsProp {
    type State<const D: usize> = RmsPropState<D>;

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
        self.burn_rmsprop.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <RmsProp as Optimizer>::to_device(state, device)
    }
}

#[cfg(all(test, feature = "flex"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use burn::optim::ModuleOptimizer;

    /// `steps` steps on a fixed parameter and fixed gradients; the parameter and the average.
    fn run<O>(optimizer: O, steps: usize) -> (Vec<f32>, Vec<f32>)
    where
        O: Optimizer<State<2> = RmsPropState<2>>,
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
            (param, state) = optimizer.step(5e-3, param, grad, state);
        }
        let state = state.expect("a state after a step");
        let values = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().expect("f32 data");
        (values(param), values(state.square_avg.square_avg))
    }

    #[test]
    fn matches_burn_rmsprop_on_flex() {
        let config = RmsPropConfig::new()
            .with_alpha(0.99)
            .with_epsilon(1e-8)
            .with_momentum(0.0);
        let expected = run(config.build(), 5);
        let fused = run(FusedRmsProp::new(0.99, 1e-8), 5);
        for (name, a, b) in [
            ("parameter", &expected.0, &fused.0),
            ("average", &expected.1, &fused.1),
        ] {
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs() / x.abs().max(1e-3))
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "{name}: relative difference {worst}");
        }
        assert_ne!(expected.0, run(config.build(), 1).0, "the parameter moved");
    }

    #[test]
    fn state_is_burn_rmsprops_and_resumes_either_way() {
        let device = Device::flex().autodiff();
        let linear = burn::nn::LinearConfig::new(9, 4).init(&device);
        let grads_of = |linear: &burn::nn::Linear| {
            let x = Tensor::<2>::ones([3, 9], &device);
            let loss = linear.forward(x).powf_scalar(2.0).sum();
            burn::optim::GradientsParams::from_grads(loss.backward(), linear)
        };
        let mut fused = ModuleOptimizer::from(FusedRmsProp::new(0.99, 1e-8));
        let mut model = linear;
        for _ in 0..2 {
            let grads = grads_of(&model);
            model = fused.step(1e-2, model, grads);
        }
        let record = fused.into_bytes().expect("optimizer state serialises");
        let config = RmsPropConfig::new()
            .with_alpha(0.99)
            .with_epsilon(1e-8)
            .with_momentum(0.0);
        let mut burn_rmsprop = ModuleOptimizer::from(config.build())
            .from_bytes(record)
            .expect("fused state loads into burn's RmsProp");
        let grads = grads_of(&model);
        let by_burn = burn_rmsprop.step(1e-2, model.clone(), grads);
        let grads = grads_of(&model);
        let by_fused = fused.step(1e-2, model, grads);
        let w = |m: &burn::nn::Linear| m.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let (a, b) = (w(&by_burn), w(&by_fused));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-6 * x.abs().max(1.0), "{x} vs {y}");
        }
    }
}
