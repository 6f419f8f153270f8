//! A small MLP pair for 2-D toy distributions (rings and grids of Gaussians).
//!
//! Samples are points `(x, y)` carried as `[B, 2, 1, 1]`, so the toy models share the image
//! models' interface. Generator: `z -> [Linear, ReLU] x depth -> Linear(2)` (no tanh: the
//! points are not bounded to [-1, 1]). Discriminator: `[Linear, LeakyReLU(0.2)] x depth ->
//! Linear(1)`.

use burn::nn::{Linear, Relu};
use burn::prelude::*;

use crate::error::{ModelError, positive};
use crate::init::WeightInit;
use crate::layers::{self, LeakyRelu};

/// Dimension of a toy sample.
const POINT_DIM: usize = 2;

fn layers(
    d_in: usize,
    width: usize,
    depth: usize,
    d_out: usize,
    device: &Device,
    init: &mut WeightInit,
) -> Result<Vec<Linear>, ModelError> {
    positive("width", width)?;
    positive("depth", depth)?;
    let mut out = Vec::with_capacity(depth + 1);
    let mut d = d_in;
    for _ in 0..depth {
        out.push(init.linear(d, width, true, device));
        d = width;
    }
    out.push(init.linear(d, d_out, true, device));
    Ok(out)
}

/// Configuration of [`ToyGenerator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToyGeneratorConfig {
    /// Size of the noise vector.
    pub latent_dim: usize,
    /// Width of every hidden layer.
    pub width: usize,
    /// Number of hidden layers.
    pub depth: usize,
}

impl Default for ToyGeneratorConfig {
    fn default() -> Self {
        Self {
            latent_dim: 16,
            width: 128,
            depth: 3,
        }
    }
}

impl ToyGeneratorConfig {
    /// Builds the generator.
    pub fn init(&self, device: &Device, init: &mut WeightInit) -> Result<ToyGenerator, ModelError> {
        positive("latent_dim", self.latent_dim)?;
        Ok(ToyGenerator {
            layers: layers(
                self.latent_dim,
                self.width,
                self.depth,
                POINT_DIM,
                device,
                init,
            )?,
            activation: Relu::new(),
        })
    }
}

/// MLP generator of 2-D points.
#[derive(Module, Debug)]
pub struct ToyGenerator {
    layers: Vec<Linear>,
    activation: Relu,
}

impl ToyGenerator {
    /// `[B, latent] -> [B, 2, 1, 1]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let batch = z.dims()[0];
        let mut x = z;
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.activation.forward(x);
            }
        }
        x.reshape([batch, POINT_DIM, 1, 1])
    }
}

/// Configuration of [`ToyDiscriminator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToyDiscriminatorConfig {
    /// Width of every hidden layer.
    pub width: usize,
    /// Number of hidden layers.
    pub depth: usize,
    /// Input values per item: the point's 2 coordinates, plus any label inputs.
    pub inputs: usize,
}

impl Default for ToyDiscriminatorConfig {
    fn default() -> Self {
        Self {
            width: 128,
            depth: 3,
            inputs: POINT_DIM,
        }
    }
}

impl ToyDiscriminatorConfig {
    /// Builds the discriminator.
    pub fn init(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<ToyDiscriminator, ModelError> {
        positive("inputs", self.inputs)?;
        Ok(ToyDiscriminator {
            layers: layers(self.inputs, self.width, self.depth, 1, device, init)?,
            activation: LeakyRelu::new(0.2),
        })
    }
}

/// MLP discriminator of 2-D points.
#[derive(Module, Debug)]
pub struct ToyDiscriminator {
    layers: Vec<Linear>,
    activation: LeakyRelu,
}

impl ToyDiscriminator {
    /// `[B, 2, 1, 1] -> [B, 1]` logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// The last hidden layer's activations, `[B, C, 1, 1] -> [B, width]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        layers::hidden_features(&self.layers, &self.activation, x.flatten(1, 3))
    }

    /// The output layer: features `[B, width] -> [B, 1]` logits.
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
        let mut init = WeightInit::new(3);
        let g = ToyGeneratorConfig::default()
            .init(&device, &mut init)
            .unwrap();
        let d = ToyDiscriminatorConfig::default()
            .init(&device, &mut init)
            .unwrap();
        let x = g.forward(Tensor::zeros([5, 16], &device));
        assert_eq!(x.dims(), [5, 2, 1, 1]);
        assert_eq!(d.forward(x).dims(), [5, 1]);
    }
}
