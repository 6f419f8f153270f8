//! `dcgan32` / `dcgan64`: the DCGAN of Radford et al. 2016 (pytorch/examples), for square
//! images whose side is a power of two, at least 8.
//!
//! Generator: `z as [latent, 1, 1] -> ConvT(latent -> f*2^(n-1), k4 s1 p0) BN ReLU -> n-1 x
//! [ConvT(k4 s2 p1) BN ReLU, halving channels] -> ConvT(f -> C, k4 s2 p1) -> tanh`, with
//! `n = log2(size) - 2` and no biases. Discriminator: the mirror with LeakyReLU(0.2) and
//! BatchNorm on all but the first block, ending in `Conv(k4 s1 p0) -> [B, 1]`.

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{BatchNorm, Relu};
use burn::prelude::*;

use crate::architecture::ClassInput;
use crate::error::{ModelError, positive};
use crate::init::WeightInit;
use crate::layers::{self, LeakyRelu};

/// Number of stride-2 blocks below the 4x4 stage: 32 -> 3, 64 -> 4.
fn up_blocks(image_size: usize) -> Result<usize, ModelError> {
    if image_size < 8 || !image_size.is_power_of_two() {
        return Err(ModelError::InvalidSize {
            field: "image_size",
            value: image_size,
            reason: "dcgan doubles a 4x4 map until it reaches the image, so the image size \
                     must be a power of two of at least 8 (32 and 64 in the reference)"
                .into(),
        });
    }
    Ok(image_size.trailing_zeros() as usize - 2)
}

/// Configuration of [`DcganGenerator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DcganGeneratorConfig {
    /// Size of the noise vector (100).
    pub latent_dim: usize,
    /// Channels of the last hidden map (`ngf`, 64).
    pub width: usize,
    /// Image channels (3).
    pub channels: usize,
    /// Image side, a power of two >= 8.
    pub image_size: usize,
}

impl DcganGeneratorConfig {
    /// The reference generator for `channels x size x size` images.
    pub fn new(image_size: usize, channels: usize) -> Self {
        Self {
            latent_dim: 100,
            width: 64,
            channels,
            image_size,
        }
    }

    /// Builds the generator; rejects a side that is not a power of two >= 8.
    pub fn init(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<DcganGenerator, ModelError> {
        positive("latent_dim", self.latent_dim)?;
        positive("g_width", self.width)?;
        positive("channels", self.channels)?;
        let ups = up_blocks(self.image_size)?;
        let mut mult = 1usize << (ups - 1);
        let mut blocks = vec![GenBlock {
            conv: init.conv_transpose2d([self.latent_dim, self.width * mult], 4, 1, 0, 0, device),
            norm: init.batch_norm(self.width * mult, device),
        }];
        for _ in 1..ups {
            let (c_in, c_out) = (self.width * mult, self.width * mult / 2);
            blocks.push(GenBlock {
                conv: init.conv_transpose2d([c_in, c_out], 4, 2, 1, 0, device),
                norm: init.batch_norm(c_out, device),
            });
            mult /= 2;
        }
        let out = init.conv_transpose2d([self.width, self.channels], 4, 2, 1, 0, device);
        Ok(DcganGenerator {
            blocks,
            out,
            activation: Relu::new(),
        })
    }
}

/// ConvTranspose2d -> BatchNorm2d (ReLU applied by the generator).
#[derive(Module, Debug)]
pub struct GenBlock {
    conv: ConvTranspose2d,
    norm: BatchNorm,
}

/// The power-of-two DCGAN generator.
#[derive(Module, Debug)]
pub struct DcganGenerator {
    blocks: Vec<GenBlock>,
    out: ConvTranspose2d,
    /// ReLU after each block's BatchNorm (applied fused with it, `layers::batch_norm_leaky_relu`).
    activation: Relu,
}

impl DcganGenerator {
    /// `[B, latent] -> [B, C, S, S]` in `[-1, 1]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        self.forward_class(z, None)
    }

    /// [`Self::forward`] with class-conditional normalisation.
    pub(crate) fn forward_class(&self, z: Tensor<2>, class: Option<&ClassInput<'_>>) -> Tensor<4> {
        let [batch, latent] = z.dims();
        let mut x: Tensor<4> = z.reshape([batch, latent, 1, 1]); // [B, latent, 1, 1]
        for (i, block) in self.blocks.iter().enumerate() {
            // BatchNorm then ReLU (a LeakyReLU of slope 0).
            x = layers::class_batch_norm_leaky_relu(
                &block.norm,
                class.and_then(|c| c.at(i)),
                layers::conv_transpose2d(&block.conv, x),
                0.0,
            );
        }
        layers::tanh(layers::conv_transpose2d(&self.out, x)) // [B, C, S, S]
    }

    /// Channels of each batch normalisation, in order.
    pub(crate) fn norm_widths(&self) -> Vec<usize> {
        self.blocks.iter().map(|b| b.norm.gamma.dims()[0]).collect()
    }
}

/// Configuration of [`DcganDiscriminator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DcganDiscriminatorConfig {
    /// Channels of the first convolution (`ndf`, 64).
    pub width: usize,
    /// Image channels.
    pub channels: usize,
    /// Image side, a power of two >= 8.
    pub image_size: usize,
}

impl DcganDiscriminatorConfig {
    /// The reference discriminator for `channels x size x size` images.
    pub fn new(image_size: usize, channels: usize) -> Self {
        Self {
            width: 64,
            channels,
            image_size,
        }
    }

    /// Builds the discriminator; rejects a side that is not a power of two >= 8.
    pub fn init(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<DcganDiscriminator, ModelError> {
        positive("d_width", self.width)?;
        positive("channels", self.channels)?;
        let ups = up_blocks(self.image_size)?;
        let first = init.conv2d([self.channels, self.width], 4, 2, 1, false, device);
        let mut blocks = Vec::with_capacity(ups - 1);
        let mut mult = 1usize;
        for _ in 1..ups {
            let (c_in, c_out) = (self.width * mult, self.width * mult * 2);
            blocks.push(DiscBlock {
                conv: init.conv2d([c_in, c_out], 4, 2, 1, false, device),
                norm: init.batch_norm(c_out, device),
            });
            mult *= 2;
        }
        let out = init.conv2d([self.width * mult, 1], 4, 1, 0, false, device);
        Ok(DcganDiscriminator {
            first,
            blocks,
            out,
            activation: LeakyRelu::new(0.2),
        })
    }
}

/// Conv2d -> BatchNorm2d (LeakyReLU applied by the discriminator).
#[derive(Module, Debug)]
pub struct DiscBlock {
    conv: Conv2d,
    norm: BatchNorm,
}

/// The power-of-two DCGAN discriminator.
#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    first: Conv2d,
    blocks: Vec<DiscBlock>,
    out: Conv2d,
    activation: LeakyRelu,
}

impl DcganDiscriminator {
    /// `[B, C, S, S] -> [B, 1]` logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// The last block's 4x4 activations, flattened: `[B, C, S, S] -> [B, c*4*4]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = self.activation.forward(layers::conv2d(&self.first, x)); // [B, f, S/2, S/2]
        for block in &self.blocks {
            x = layers::batch_norm_leaky_relu(
                &block.norm,
                layers::conv2d(&block.conv, x),
                self.activation.negative_slope,
            );
        }
        x.flatten(1, 3) // [B, c*4*4]
    }

    /// The output convolution (4x4, no padding, over the 4x4 map): `[B, c*4*4] -> [B, 1]`.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        let [batch, _] = features.dims();
        let [_, channels, k, _] = self.out.weight.dims();
        let x: Tensor<4> = features.reshape([batch, channels, k, k]);
        layers::conv2d(&self.out, x).flatten(1, 3) // [B, 1]
    }

    /// Width of [`Self::features`].
    pub fn feature_dim(&self) -> usize {
        let [_, channels, kh, kw] = self.out.weight.dims();
        channels * kh * kw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_for_32_and_64() {
        let device = Device::flex();
        for (size, first_width) in [(32, 256), (64, 512)] {
            let mut init = WeightInit::new(2);
            let g = DcganGeneratorConfig::new(size, 3)
                .init(&device, &mut init)
                .unwrap();
            let d = DcganDiscriminatorConfig::new(size, 3)
                .init(&device, &mut init)
                .unwrap();
            assert_eq!(g.blocks[0].conv.weight.dims(), [100, first_width, 4, 4]);
            let x = g.forward(Tensor::zeros([2, 100], &device));
            assert_eq!(x.dims(), [2, 3, size, size]);
            assert_eq!(d.forward(x).dims(), [2, 1]);
            assert_eq!(d.blocks.len(), g.blocks.len() - 1);
        }
    }

    #[test]
    fn rejects_non_power_of_two() {
        let device = Device::flex();
        for size in [0, 4, 28, 48] {
            let cfg = DcganGeneratorConfig::new(size, 3);
            assert!(
                cfg.init(&device, &mut WeightInit::new(0)).is_err(),
                "{size}"
            );
            let cfg = DcganDiscriminatorConfig::new(size, 3);
            assert!(
                cfg.init(&device, &mut WeightInit::new(0)).is_err(),
                "{size}"
            );
        }
    }
}
