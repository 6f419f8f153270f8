//! `dcgan-mnist`: the 28x28 DCGAN of the TensorFlow DCGAN tutorial, as in the reference.
//!
//! Generator: `z -> Linear(w*s*s, no bias) -> BN1d -> LReLU -> [w, s, s] -> ConvT(w -> w/2,
//! k5 s1 p2) BN LReLU -> ConvT(w/2 -> w/4, k5 s2 p2 op1) BN LReLU -> ConvT(w/4 -> C, k5 s2 p2
//! op1) -> tanh`, where `s = image_size / 4` and `w = width` (256 in the reference).
//! Discriminator: `Conv(C -> w, k5 s2 p2) LReLU -> Conv(w -> 2w, k5 s2 p2) LReLU -> flatten ->
//! Linear(2w*s*s -> 1)`, `w = width` (64 in the reference).

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;

use crate::architecture::ClassInput;
use crate::error::{ModelError, positive};
use crate::init::WeightInit;
use crate::layers::{self, LeakyRelu};

fn leaky() -> LeakyRelu {
    LeakyRelu::new(0.2)
}

fn check_image_size(image_size: usize) -> Result<usize, ModelError> {
    if image_size == 0 || !image_size.is_multiple_of(4) {
        return Err(ModelError::InvalidSize {
            field: "image_size",
            value: image_size,
            reason: "dcgan-mnist upsamples twice by 2, so the image size must be a positive \
                     multiple of 4 (28 for MNIST)"
                .into(),
        });
    }
    Ok(image_size / 4)
}

/// Configuration of [`DcganMnistGenerator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DcganMnistGeneratorConfig {
    /// Size of the noise vector (100 in the reference).
    pub latent_dim: usize,
    /// Channels of the first feature map (256 in the reference); halved twice, so it must be a
    /// multiple of 4.
    pub width: usize,
    /// Image channels (1 for MNIST).
    pub channels: usize,
    /// Image side, a multiple of 4 (28 for MNIST).
    pub image_size: usize,
}

impl DcganMnistGeneratorConfig {
    /// The reference generator for 1x28x28 images.
    pub fn mnist() -> Self {
        Self {
            latent_dim: 100,
            width: 256,
            channels: 1,
            image_size: 28,
        }
    }

    /// Builds the generator; rejects an image size that is not a multiple of 4.
    pub fn init(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<DcganMnistGenerator, ModelError> {
        positive("latent_dim", self.latent_dim)?;
        positive("channels", self.channels)?;
        let side = check_image_size(self.image_size)?;
        if self.width < 4 || !self.width.is_multiple_of(4) {
            return Err(ModelError::InvalidSize {
                field: "g_width",
                value: self.width,
                reason: "is halved twice, so it must be a positive multiple of 4".into(),
            });
        }
        let w = self.width;
        let features = w * side * side;
        Ok(DcganMnistGenerator {
            project: init.linear(self.latent_dim, features, false, device),
            project_norm: init.batch_norm(features, device),
            up1: init.conv_transpose2d([w, w / 2], 5, 1, 2, 0, device),
            norm1: init.batch_norm(w / 2, device),
            up2: init.conv_transpose2d([w / 2, w / 4], 5, 2, 2, 1, device),
            norm2: init.batch_norm(w / 4, device),
            up3: init.conv_transpose2d([w / 4, self.channels], 5, 2, 2, 1, device),
            activation: leaky(),
            start: [w, side, side],
        })
    }
}

/// The 28x28 DCGAN generator.
#[derive(Module, Debug)]
pub struct DcganMnistGenerator {
    project: Linear,
    project_norm: BatchNorm,
    up1: ConvTranspose2d,
    norm1: BatchNorm,
    up2: ConvTranspose2d,
    norm2: BatchNorm,
    up3: ConvTranspose2d,
    activation: LeakyRelu,
    start: [usize; 3],
}

impl DcganMnistGenerator {
    /// `[B, latent] -> [B, C, 4s, 4s]` in `[-1, 1]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        self.forward_class(z, None)
    }

    /// [`Self::forward`] with class-conditional normalisation.
    pub(crate) fn forward_class(&self, z: Tensor<2>, class: Option<&ClassInput<'_>>) -> Tensor<4> {
        let batch = z.dims()[0];
        let [w, s, _] = self.start;
        let slope = self.activation.negative_slope;
        let cond = |i: usize| class.and_then(|c| c.at(i));
        let x = self.project.forward(z); // [B, w*s*s]
        let x = layers::class_batch_norm_leaky_relu(&self.project_norm, cond(0), x, slope);
        let x: Tensor<4> = x.reshape([batch, w, s, s]); // [B, w, s, s]
        let x = layers::conv_transpose2d(&self.up1, x);
        let x = layers::class_batch_norm_leaky_relu(&self.norm1, cond(1), x, slope); // [B, w/2, s, s]
        let x = layers::conv_transpose2d(&self.up2, x);
        let x = layers::class_batch_norm_leaky_relu(&self.norm2, cond(2), x, slope); // [B, w/4, 2s, 2s]
        layers::tanh(layers::conv_transpose2d(&self.up3, x)) // [B, C, 4s, 4s]
    }

    /// Channels of each batch normalisation, in order.
    pub(crate) fn norm_widths(&self) -> Vec<usize> {
        [&self.project_norm, &self.norm1, &self.norm2]
            .iter()
            .map(|n| n.gamma.dims()[0])
            .collect()
    }
}

/// Configuration of [`DcganMnistDiscriminator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DcganMnistDiscriminatorConfig {
    /// Channels of the first convolution (64 in the reference); the second has twice as many.
    pub width: usize,
    /// Image channels.
    pub channels: usize,
    /// Image side, a multiple of 4.
    pub image_size: usize,
}

impl DcganMnistDiscriminatorConfig {
    /// The reference discriminator for 1x28x28 images.
    pub fn mnist() -> Self {
        Self {
            width: 64,
            channels: 1,
            image_size: 28,
        }
    }

    /// Builds the discriminator; rejects an image size that is not a multiple of 4.
    pub fn init(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<DcganMnistDiscriminator, ModelError> {
        positive("d_width", self.width)?;
        positive("channels", self.channels)?;
        let side = check_image_size(self.image_size)?;
        let w = self.width;
        Ok(DcganMnistDiscriminator {
            conv1: init.conv2d([self.channels, w], 5, 2, 2, true, device),
            conv2: init.conv2d([w, 2 * w], 5, 2, 2, true, device),
            out: init.linear(2 * w * side * side, 1, true, device),
            activation: leaky(),
        })
    }
}

/// The 28x28 DCGAN discriminator.
#[derive(Module, Debug)]
pub struct DcganMnistDiscriminator {
    conv1: Conv2d,
    conv2: Conv2d,
    out: Linear,
    activation: LeakyRelu,
}

impl DcganMnistDiscriminator {
    /// `[B, C, 4s, 4s] -> [B, 1]` logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// The last convolution's activations, flattened: `[B, C, 4s, 4s] -> [B, 2w*s*s]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.activation.forward(layers::conv2d(&self.conv1, x)); // [B, w, 2s, 2s]
        let x = self.activation.forward(layers::conv2d(&self.conv2, x)); // [B, 2w, s, s]
        x.flatten(1, 3) // [B, 2w*s*s]
    }

    /// The output layer: features `[B, 2w*s*s] -> [B, 1]` logits.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        self.out.forward(features)
    }

    /// [`Self::features`] of `x` `[B, C, H, W]`, in the autodiff graph, and the gradient
    /// with respect to `x` of `sum_b <features(x)_b, seed_b>` for `seed` `[B, F]`,
    /// differentiable in the weights: each convolution's backward is the transposed
    /// convolution with its weights (see `layers::hidden_features_and_input_gradient`).
    pub fn features_and_input_gradient(
        &self,
        x: Tensor<4>,
        seed: Tensor<2>,
    ) -> (Tensor<2>, Tensor<4>) {
        let input = x.dims();
        let a1 = layers::conv2d(&self.conv1, x); // [B, w, 2s, 2s]
        let h1 = self.activation.forward(a1.clone());
        let hidden = h1.dims();
        let a2 = layers::conv2d(&self.conv2, h1); // [B, 2w, s, s]
        let slopes2 = layers::leaky_relu_slopes(a2.clone(), &self.activation);
        let grad = seed.reshape(a2.dims()) * slopes2;
        let grad = layers::conv2d_input_gradient(&self.conv2, grad, hidden)
            * layers::leaky_relu_slopes(a1, &self.activation);
        let features = self.activation.forward(a2).flatten(1, 3); // [B, 2w*s*s]
        (
            features,
            layers::conv2d_input_gradient(&self.conv1, grad, input),
        )
    }

    /// The head's gradient with respect to the features, one row per item: `[B, F]`.
    pub fn head_gradient(&self, batch: usize) -> Option<Tensor<2>> {
        layers::output_layer_gradient(std::slice::from_ref(&self.out), batch)
    }

    /// Width of [`Self::features`].
    pub fn feature_dim(&self) -> usize {
        self.out.weight.dims()[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_the_reference() {
        let device = Device::flex();
        let mut init = WeightInit::new(1);
        let g = DcganMnistGeneratorConfig::mnist()
            .init(&device, &mut init)
            .unwrap();
        let d = DcganMnistDiscriminatorConfig::mnist()
            .init(&device, &mut init)
            .unwrap();
        let x = g.forward(Tensor::zeros([2, 100], &device));
        assert_eq!(x.dims(), [2, 1, 28, 28]);
        assert_eq!(d.forward(x).dims(), [2, 1]);
        assert_eq!(g.project.weight.dims(), [100, 12544]);
        assert!(g.project.bias.is_none());
        assert_eq!(d.out.weight.dims(), [6272, 1]);
    }

    #[test]
    fn rejects_image_size_not_multiple_of_four() {
        let device = Device::flex();
        let mut cfg = DcganMnistGeneratorConfig::mnist();
        cfg.image_size = 30;
        let err = cfg.init(&device, &mut WeightInit::new(0)).unwrap_err();
        assert!(err.to_string().contains("image_size = 30"), "{err}");
    }
}
