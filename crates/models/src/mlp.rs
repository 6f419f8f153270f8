//! `mlp-mnist`: the fully connected GAN of the reference benchmark.
//!
//! Generator: `z -> [Linear, BatchNorm1d, LeakyReLU(0.2)] x len(hidden) -> Linear(C*H*W) ->
//! tanh -> [C, H, W]`. Discriminator: `flatten -> [Linear, LeakyReLU(0.2)] x len(hidden) ->
//! Linear(1)`.

use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;

use crate::architecture::ClassInput;
use crate::error::{ModelError, positive};
use crate::init::WeightInit;
use crate::layers::{self, LeakyRelu};

/// Slope of every LeakyReLU in the MLP pair.
const LEAKY_SLOPE: f64 = 0.2;

fn leaky() -> LeakyRelu {
    LeakyRelu::new(LEAKY_SLOPE)
}

fn check_shape(latent_dim: usize, hidden: &[usize], shape: [usize; 3]) -> Result<(), ModelError> {
    positive("latent_dim", latent_dim)?;
    positive("channels", shape[0])?;
    positive("image_size", shape[1])?;
    positive("image_size", shape[2])?;
    if hidden.is_empty() {
        return Err(ModelError::InvalidSize {
            field: "hidden",
            value: 0,
            reason: "needs at least one hidden layer".into(),
        });
    }
    for &width in hidden {
        positive("hidden", width)?;
    }
    Ok(())
}

/// Configuration of [`MlpGenerator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpGeneratorConfig {
    /// Size of the noise vector.
    pub latent_dim: usize,
    /// Widths of the hidden blocks, in order.
    pub hidden: Vec<usize>,
    /// Output shape `[C, H, W]`.
    pub sample_shape: [usize; 3],
}

impl MlpGeneratorConfig {
    /// The reference `mlp-mnist` generator for `[1, 28, 28]` images.
    pub fn mnist() -> Self {
        Self {
            latent_dim: 100,
            hidden: vec![128, 256, 512, 1024],
            sample_shape: [1, 28, 28],
        }
    }

    /// Builds the generator, rejecting empty or zero sizes.
    pub fn init(&self, device: &Device, init: &mut WeightInit) -> Result<MlpGenerator, ModelError> {
        check_shape(self.latent_dim, &self.hidden, self.sample_shape)?;
        let mut blocks = Vec::with_capacity(self.hidden.len());
        let mut width = self.latent_dim;
        for &next in &self.hidden {
            blocks.push(MlpBlock {
                linear: init.linear(width, next, true, device),
                norm: init.batch_norm(next, device),
                activation: leaky(),
            });
            width = next;
        }
        let out = init.linear(width, self.sample_shape.iter().product(), true, device);
        Ok(MlpGenerator {
            blocks,
            out,
            sample_shape: self.sample_shape,
        })
    }
}

/// Linear -> BatchNorm1d -> LeakyReLU.
#[derive(Module, Debug)]
pub struct MlpBlock {
    linear: Linear,
    norm: BatchNorm,
    activation: LeakyRelu,
}

/// Fully connected generator.
#[derive(Module, Debug)]
pub struct MlpGenerator {
    blocks: Vec<MlpBlock>,
    out: Linear,
    sample_shape: [usize; 3],
}

impl MlpGenerator {
    /// Channels of each batch normalisation, in order.
    pub(crate) fn norm_widths(&self) -> Vec<usize> {
        self.blocks.iter().map(|b| b.norm.gamma.dims()[0]).collect()
    }

    /// `[B, latent] -> [B, C, H, W]` in `[-1, 1]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        self.forward_class(z, None)
    }

    /// [`Self::forward`] with class-conditional normalisation.
    pub(crate) fn forward_class(&self, z: Tensor<2>, class: Option<&ClassInput<'_>>) -> Tensor<4> {
        let batch = z.dims()[0];
        let mut x = z;
        for (i, block) in self.blocks.iter().enumerate() {
            let slope = block.activation.negative_slope;
            let cond = class.and_then(|c| c.at(i));
            x = layers::class_batch_norm_leaky_relu(
                &block.norm,
                cond,
                block.linear.forward(x),
                slope,
            );
        }
        let [c, h, w] = self.sample_shape;
        layers::tanh(self.out.forward(x)).reshape([batch, c, h, w]) // [B, C, H, W]
    }
}

/// Configuration of [`MlpDiscriminator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpDiscriminatorConfig {
    /// Input shape `[C, H, W]`.
    pub sample_shape: [usize; 3],
    /// Widths of the hidden layers, in order.
    pub hidden: Vec<usize>,
}

impl MlpDiscriminatorConfig {
    /// The reference `mlp-mnist` discriminator.
    pub fn mnist() -> Self {
        Self {
            sample_shape: [1, 28, 28],
            hidden: vec![512, 256],
        }
    }

    /// Builds the discriminator, rejecting empty or zero sizes.
    pub fn init(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<MlpDiscriminator, ModelError> {
        check_shape(1, &self.hidden, self.sample_shape)?;
        let mut layers = Vec::with_capacity(self.hidden.len() + 1);
        let mut width: usize = self.sample_shape.iter().product();
        for &next in &self.hidden {
            layers.push(init.linear(width, next, true, device));
            width = next;
        }
        layers.push(init.linear(width, 1, true, device));
        Ok(MlpDiscriminator {
            layers,
            activation: leaky(),
        })
    }
}

/// Fully connected discriminator.
#[derive(Module, Debug)]
pub struct MlpDiscriminator {
    layers: Vec<Linear>,
    activation: LeakyRelu,
}

impl MlpDiscriminator {
    /// `[B, C, H, W] -> [B, 1]` logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// The last hidden layer's activations, `[B, C, H, W] -> [B, hidden.last()]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        layers::hidden_features(&self.layers, &self.activation, x.flatten(1, 3))
    }

    /// The output layer: features `[B, F] -> [B, 1]` logits.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        layers::output_layer(&self.layers, features)
    }

    /// [`Self::features`] of `x` `[B, C, H, W]`, in the autodiff graph, and the gradient
    /// with respect to `x` of `sum_b <features(x)_b, seed_b>` for `seed` `[B, F]`,
    /// differentiable in the weights (see `layers::hidden_features_and_input_gradient`).
    pub fn features_and_input_gradient(
        &self,
        x: Tensor<4>,
        seed: Tensor<2>,
    ) -> (Tensor<2>, Tensor<4>) {
        layers::hidden_features_and_input_gradient(&self.layers, &self.activation, x, seed)
    }

    /// The head's gradient with respect to the features, one row per item: `[B, F]`.
    pub fn head_gradient(&self, batch: usize) -> Option<Tensor<2>> {
        layers::output_layer_gradient(&self.layers, batch)
    }

    /// Width of [`Self::features`].
    pub fn feature_dim(&self) -> usize {
        layers::output_fan_in(&self.layers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let device = Device::flex();
        let mut init = WeightInit::new(0);
        let g = MlpGeneratorConfig::mnist()
            .init(&device, &mut init)
            .unwrap();
        let d = MlpDiscriminatorConfig::mnist()
            .init(&device, &mut init)
            .unwrap();
        let x = g.forward(Tensor::zeros([3, 100], &device));
        assert_eq!(x.dims(), [3, 1, 28, 28]);
        assert_eq!(d.forward(x).dims(), [3, 1]);
    }

    #[test]
    fn rejects_zero_sizes() {
        let device = Device::flex();
        let mut cfg = MlpGeneratorConfig::mnist();
        cfg.hidden = vec![];
        assert!(matches!(
            cfg.init(&device, &mut WeightInit::new(0)),
            Err(ModelError::InvalidSize {
                field: "hidden",
                ..
            })
        ));
        let mut cfg = MlpDiscriminatorConfig::mnist();
        cfg.sample_shape = [1, 0, 28];
        assert!(cfg.init(&device, &mut WeightInit::new(0)).is_err());
    }
}
