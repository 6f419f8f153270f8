//! An exponential moving average of the generator's weights (Yazıcı et al. 2019), the
//! generator that sample grids, toy scores and `generate` use by default.
//!
//! The average is a generator of its own, built apart from the trained one so that its
//! BatchNorm running statistics are its own (`Module::clone` would share them), and kept
//! without autodiff. After each iteration every float of the generator's record, weights
//! and running statistics alike, is blended into it:
//! `average = decay * average + (1 - decay) * generator`.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use ganforge_models::Generator;
use serde::{Deserialize, Serialize};

/// How the average follows the generator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmaSpec {
    /// The largest decay per iteration: the share of itself the average keeps.
    pub beta: f64,
    /// The iteration from which the average lags; before it the average is the generator.
    pub start: u64,
}

impl EmaSpec {
    /// `beta = 0.999` from the first iteration.
    pub const DEFAULT: Self = Self {
        beta: 0.999,
        start: 0,
    };

    /// The decay applied after iteration `iteration` (counted from 1): 0 (a copy) before
    /// [`Self::start`], then `min(beta, (1 + k) / (10 + k))` for the `k`-th iteration since,
    /// so the first iterations' weights, still near the initialisation, fade out quickly.
    pub fn decay(&self, iteration: u64) -> f64 {
        if iteration <= self.start {
            return 0.0;
        }
        let k = (iteration - self.start - 1) as f64;
        self.beta.min((1.0 + k) / (10.0 + k))
    }
}

/// The averaged generator and how it follows the trained one.
#[derive(Debug)]
pub struct Ema {
    /// How the average follows the generator.
    pub spec: EmaSpec,
    /// The averaged generator (no autodiff; its own running statistics).
    pub generator: Generator,
}

impl Ema {
    /// Starts an average at `generator`, a network built apart from the trained one (with
    /// the same weights) so that nothing is shared.
    pub fn new(spec: EmaSpec, generator: Generator) -> Self {
        Self {
            spec,
            generator: generator.valid(),
        }
    }

    /// Blends the trained `generator` into the average after iteration `iteration`.
    pub fn update(&mut self, generator: &Generator, iteration: u64) {
        let current = generator.valid();
        let mut values = Values::default();
        current.visit(&mut values);
        let mut blend = Blend {
            values: values.0.into_iter(),
            decay: self.spec.decay(iteration),
        };
        self.generator = self.generator.clone().map(&mut blend);
        debug_assert!(blend.values.next().is_none(), "the networks differ");
    }
}

/// Every float of a module's record, flattened, in visiting order.
#[derive(Default)]
struct Values(Vec<Tensor<1>>);

impl ModuleVisitor for Values {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().detach().flatten(0, D - 1));
    }
}

/// Blends the visited floats of another module, in the same order, into each float.
struct Blend {
    values: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(current) = self.values.next() else {
            return param;
        };
        let decay = self.decay;
        param.map(|average| {
            let current = current.reshape(average.shape());
            if decay == 0.0 {
                current
            } else {
                average.mul_scalar(decay) + current.mul_scalar(1.0 - decay)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ganforge_models::{Architecture, Conditioning, MlpDiscriminatorConfig, MlpGeneratorConfig};

    /// A small MLP generator (with BatchNorm) on flex with autodiff, as in training, weights
    /// drawn from `seed`.
    fn generator(seed: u64) -> Generator {
        let shape = [1, 4, 4];
        let arch = Architecture::Mlp(
            MlpGeneratorConfig {
                latent_dim: 3,
                hidden: vec![5],
                sample_shape: shape,
            },
            MlpDiscriminatorConfig {
                sample_shape: shape,
                hidden: vec![5],
            },
        );
        arch.generator(&Device::flex().autodiff(), seed, &Conditioning::none())
            .unwrap()
    }

    /// Every float of `g`'s record (weights and running statistics), in visiting order.
    fn floats(g: &Generator) -> Vec<f32> {
        let mut values = Values::default();
        g.valid().visit(&mut values);
        values
            .0
            .into_iter()
            .flat_map(|t| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap())
            .collect()
    }

    /// A training-mode forward pass, which moves the BatchNorm running statistics.
    fn train_forward(g: &Generator, salt: f32) {
        let device = Device::flex().autodiff();
        let z = Tensor::<2>::from_floats([[salt, 1.0, -0.5], [0.3, -salt, 2.0]], &device);
        let _ = g.forward(z, None);
    }

    #[test]
    fn blends_weights_and_running_statistics_and_shares_nothing() {
        let spec = EmaSpec {
            beta: 0.75,
            start: 0,
        };
        let mut ema = Ema::new(spec, generator(1));
        let trained = generator(2);
        train_forward(&trained, 0.7);
        let (before, current) = (floats(&ema.generator), floats(&trained));
        assert_ne!(before, current);
        ema.update(&trained, 100);
        let after = floats(&ema.generator);
        for ((a, b), c) in after.iter().zip(&before).zip(&current) {
            assert!(
                (a - (0.75 * b + 0.25 * c)).abs() < 1e-6,
                "{a} vs {b} and {c}"
            );
        }
        // The average's running statistics are its own: training the generator further
        // leaves them alone.
        train_forward(&trained, -1.3);
        assert_eq!(floats(&ema.generator), after);
        assert_ne!(floats(&trained), current);
    }

    #[test]
    fn decay_copies_before_start_then_ramps_to_beta() {
        let spec = EmaSpec {
            beta: 0.99,
            start: 5,
        };
        assert_eq!(spec.decay(1), 0.0);
        assert_eq!(spec.decay(5), 0.0);
        assert!((spec.decay(6) - 0.1).abs() < 1e-12);
        assert!((spec.decay(7) - 2.0 / 11.0).abs() < 1e-12);
        assert_eq!(spec.decay(10_000), 0.99);
    }
}
