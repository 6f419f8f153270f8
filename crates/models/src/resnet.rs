//! `sngan-resnet`: the residual generator and discriminator of Miyato et al. 2018 (SNGAN) for
//! 32x32 images, the CIFAR-10 networks that PyTorch-StudioGAN and Mimicry train; other
//! power-of-two sides of at least 8 add or drop resampling blocks.
//!
//! Generator: `z -> Linear -> [w, 4, 4] -> n x up-block -> BN ReLU -> Conv3x3(w -> C) ->
//! tanh`, `n = log2(size) - 2`, where an up-block is `BN ReLU, upsample x2 (nearest),
//! Conv3x3, BN ReLU, Conv3x3`, plus the shortcut `upsample x2, Conv1x1`; `w = 256`.
//! Discriminator (no normalisation; spectral norm is an option of every discriminator): the
//! optimised first block `Conv3x3 ReLU Conv3x3, avg-pool x2` plus `avg-pool x2, Conv1x1`;
//! down-blocks `ReLU Conv3x3 ReLU Conv3x3, avg-pool x2` plus `Conv1x1, avg-pool x2` down to
//! 8x8; two blocks without resampling and with identity shortcuts; `ReLU`, sum over the
//! pixels (the features, `[B, w]`), `Linear(w -> 1)`; `w = 128`. Weights are Glorot-uniform
//! (gain sqrt(2) inside the residual branches, 1 elsewhere), biases zero.

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::architecture::ClassInput;
use crate::error::{ModelError, positive};
use crate::init::WeightInit;
use crate::layers;

/// Gain of the residual branches' convolutions.
const BRANCH_GAIN: f32 = std::f32::consts::SQRT_2;
/// Side of the generator's first map and of the discriminator's last resampled one.
const BASE: usize = 4;

/// Up-blocks from the 4x4 map to `image_size` (32 -> 3).
fn resampling_blocks(image_size: usize) -> Result<usize, ModelError> {
    if image_size < 8 || !image_size.is_power_of_two() {
        return Err(ModelError::InvalidSize {
            field: "image_size",
            value: image_size,
            reason: "sngan-resnet doubles a 4x4 map until it reaches the image, so the image \
                     size must be a power of two of at least 8 (32 in the reference)"
                .into(),
        });
    }
    Ok(image_size.trailing_zeros() as usize - 2)
}

/// `[B, C, H, W] -> [B, C, 2H, 2W]`, each pixel repeated in a 2x2 square.
fn upsample(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .repeat_dim(3, 2)
        .repeat_dim(5, 2)
        .reshape([b, c, 2 * h, 2 * w])
}

/// `[B, C, H, W] -> [B, C, H/2, W/2]`, the mean of each 2x2 square.
fn avg_pool(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h / 2, 2, w / 2, 2])
        .mean_dim(5)
        .mean_dim(3)
        .reshape([b, c, h / 2, w / 2])
}

/// Configuration of [`ResnetGenerator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResnetGeneratorConfig {
    /// Size of the noise vector (128).
    pub latent_dim: usize,
    /// Channels of every block (256).
    pub width: usize,
    /// Image channels (3).
    pub channels: usize,
    /// Image side, a power of two >= 8 (32).
    pub image_size: usize,
}

impl ResnetGeneratorConfig {
    /// SNGAN's generator for `channels x size x size` images.
    pub fn new(image_size: usize, channels: usize) -> Self {
        Self {
            latent_dim: 128,
            width: 256,
            channels,
            image_size,
        }
    }

    /// Builds the generator; rejects a side that is not a power of two >= 8.
    pub fn init(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<ResnetGenerator, ModelError> {
        positive("latent_dim", self.latent_dim)?;
        positive("g_width", self.width)?;
        positive("channels", self.channels)?;
        let w = self.width;
        let input = init.xavier_linear(self.latent_dim, w * BASE * BASE, device);
        let blocks = (0..resampling_blocks(self.image_size)?)
            .map(|_| UpBlock {
                norm1: init.batch_norm(w, device),
                conv1: init.xavier_conv2d([w, w], 3, 1, BRANCH_GAIN, device),
                norm2: init.batch_norm(w, device),
                conv2: init.xavier_conv2d([w, w], 3, 1, BRANCH_GAIN, device),
                shortcut: init.xavier_conv2d([w, w], 1, 0, 1.0, device),
            })
            .collect();
        Ok(ResnetGenerator {
            input,
            blocks,
            norm: init.batch_norm(w, device),
            out: init.xavier_conv2d([w, self.channels], 3, 1, 1.0, device),
        })
    }
}

/// A residual block that doubles the map's side.
#[derive(Module, Debug)]
pub struct UpBlock {
    norm1: BatchNorm,
    conv1: Conv2d,
    norm2: BatchNorm,
    conv2: Conv2d,
    shortcut: Conv2d,
}

impl UpBlock {
    /// `[B, w, s, s] -> [B, w, 2s, 2s]`, with the class layers of its two normalisations.
    fn forward(
        &self,
        x: Tensor<4>,
        class: Option<&ClassInput<'_>>,
        first_norm: usize,
    ) -> Tensor<4> {
        let at = |i: usize| class.and_then(|c| c.at(first_norm + i));
        let h = layers::class_batch_norm_leaky_relu(&self.norm1, at(0), x.clone(), 0.0);
        let h = layers::conv2d(&self.conv1, upsample(h));
        let h = layers::class_batch_norm_leaky_relu(&self.norm2, at(1), h, 0.0);
        layers::conv2d(&self.conv2, h) + layers::conv2d(&self.shortcut, upsample(x))
    }
}

/// SNGAN's residual generator.
#[derive(Module, Debug)]
pub struct ResnetGenerator {
    input: Linear,
    blocks: Vec<UpBlock>,
    norm: BatchNorm,
    out: Conv2d,
}

impl ResnetGenerator {
    /// `[B, latent] -> [B, C, S, S]` in `[-1, 1]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        self.forward_class(z, None)
    }

    /// [`Self::forward`] with class-conditional normalisation.
    pub(crate) fn forward_class(&self, z: Tensor<2>, class: Option<&ClassInput<'_>>) -> Tensor<4> {
        let batch = z.dims()[0];
        let width = self.norm.gamma.dims()[0];
        let mut x: Tensor<4> = self.input.forward(z).reshape([batch, width, BASE, BASE]);
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x, class, 2 * i);
        }
        let last = class.and_then(|c| c.at(2 * self.blocks.len()));
        let x = layers::class_batch_norm_leaky_relu(&self.norm, last, x, 0.0);
        layers::tanh(layers::conv2d(&self.out, x))
    }

    /// Channels of each batch normalisation, in order (two per block, then the last).
    pub(crate) fn norm_widths(&self) -> Vec<usize> {
        let width = self.norm.gamma.dims()[0];
        vec![width; 2 * self.blocks.len() + 1]
    }
}

/// Configuration of [`ResnetDiscriminator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResnetDiscriminatorConfig {
    /// Channels of every block (128).
    pub width: usize,
    /// Input channels (the image's, plus any a conditioning method joins).
    pub channels: usize,
    /// Image side, a power of two >= 8 (32).
    pub image_size: usize,
}

impl ResnetDiscriminatorConfig {
    /// SNGAN's discriminator for `channels x size x size` images.
    pub fn new(image_size: usize, channels: usize) -> Self {
        Self {
            width: 128,
            channels,
            image_size,
        }
    }

    /// Builds the discriminator; rejects a side that is not a power of two >= 8.
    pub fn init(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<ResnetDiscriminator, ModelError> {
        positive("d_width", self.width)?;
        positive("channels", self.channels)?;
        let w = self.width;
        // Halvings down to 8x8: the first block's, then down-blocks.
        let halvings = resampling_blocks(self.image_size)? - 1;
        let mut block = |c_in: usize, kind: BlockKind| DownBlock {
            conv1: init.xavier_conv2d([c_in, w], 3, 1, BRANCH_GAIN, device),
            conv2: init.xavier_conv2d([w, w], 3, 1, BRANCH_GAIN, device),
            shortcut: (kind != BlockKind::Plain)
                .then(|| init.xavier_conv2d([c_in, w], 1, 0, 1.0, device)),
            kind,
        };
        let mut blocks = vec![block(self.channels, BlockKind::First)];
        blocks.extend((1..halvings).map(|_| block(w, BlockKind::Down)));
        blocks.extend((0..2).map(|_| block(w, BlockKind::Plain)));
        let head = init.xavier_linear(w, 1, device);
        Ok(ResnetDiscriminator { blocks, head })
    }
}

/// Where a discriminator block sits, which decides its activations and resampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// The optimised first block: no activation before its first convolution, pooling before
    /// its shortcut convolution.
    First,
    /// A block that halves the map.
    Down,
    /// A block that keeps the map's size, with an identity shortcut.
    Plain,
}

/// A residual block of the discriminator.
#[derive(Module, Debug)]
pub struct DownBlock {
    conv1: Conv2d,
    conv2: Conv2d,
    shortcut: Option<Conv2d>,
    #[module(skip)]
    kind: BlockKind,
}

impl DownBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_traced(x).0
    }

    /// The block's output and its first convolution's pre-activations (whose signs the
    /// backward needs).
    fn forward_traced(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let h = match self.kind {
            BlockKind::First => x.clone(),
            _ => relu(x.clone()),
        };
        let a1 = layers::conv2d(&self.conv1, h);
        let h = layers::conv2d(&self.conv2, relu(a1.clone()));
        let (h, shortcut) = match (self.kind, &self.shortcut) {
            (BlockKind::First, Some(conv)) => (avg_pool(h), layers::conv2d(conv, avg_pool(x))),
            (BlockKind::Down, Some(conv)) => (avg_pool(h), avg_pool(layers::conv2d(conv, x))),
            _ => (h, x),
        };
        (h + shortcut, a1)
    }

    /// The gradient with respect to the block's input `x` given `grad`, the gradient with
    /// respect to its output, and `a1`, the first convolution's pre-activations at `x`
    /// ([`Self::forward_traced`]): each layer's backward by hand (transposed convolutions
    /// with the same weights, ReLU masks, pooling spread over its squares), differentiable in
    /// the weights.
    fn input_gradient(&self, x: &Tensor<4>, a1: Tensor<4>, grad: Tensor<4>) -> Tensor<4> {
        let input = x.dims();
        let resampled = |g: Tensor<4>| match self.kind {
            BlockKind::Plain => g,
            _ => avg_pool_backward(g),
        };
        // The residual branch: conv2(relu(conv1(h))), pooled unless plain.
        let g = resampled(grad.clone());
        let g = layers::conv2d_input_gradient(&self.conv2, g, a1.dims()) * relu_mask(a1);
        let g = layers::conv2d_input_gradient(&self.conv1, g, input);
        let branch = match self.kind {
            BlockKind::First => g,
            _ => g * relu_mask(x.clone()),
        };
        let shortcut = match (self.kind, &self.shortcut) {
            (BlockKind::First, Some(conv)) => {
                let [b, c, h, w] = input;
                let pooled = [b, c, h / 2, w / 2];
                avg_pool_backward(layers::conv2d_input_gradient(conv, grad, pooled))
            }
            (BlockKind::Down, Some(conv)) => {
                layers::conv2d_input_gradient(conv, avg_pool_backward(grad), input)
            }
            _ => grad,
        };
        branch + shortcut
    }
}

/// The backward of [`avg_pool`]: each gradient spread evenly over its 2x2 square.
fn avg_pool_backward(grad: Tensor<4>) -> Tensor<4> {
    upsample(grad).mul_scalar(0.25)
}

/// The ReLU's derivative at `a`: 1 where positive, 0 elsewhere (detached: it is piecewise
/// constant).
fn relu_mask(a: Tensor<4>) -> Tensor<4> {
    a.detach().greater_elem(0.0).float()
}

/// SNGAN's residual discriminator.
#[derive(Module, Debug)]
pub struct ResnetDiscriminator {
    blocks: Vec<DownBlock>,
    head: Linear,
}

impl ResnetDiscriminator {
    /// `[B, C, S, S] -> [B, 1]` logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// The last block's activations summed over the pixels: `[B, C, S, S] -> [B, w]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x));
        relu(x).sum_dim(3).sum_dim(2).flatten(1, 3) // [B, w]
    }

    /// The output layer: `[B, w] -> [B, 1]`.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        self.head.forward(features)
    }

    /// [`Self::features`] of `x` `[B, C, S, S]`, in the autodiff graph, and the gradient
    /// with respect to `x` of `sum_b <features(x)_b, seed_b>` for `seed` `[B, w]`,
    /// differentiable in the weights (see `DownBlock::input_gradient`; the ReLU masks it
    /// takes from the forward pass are detached).
    pub fn features_and_input_gradient(
        &self,
        x: Tensor<4>,
        seed: Tensor<2>,
    ) -> (Tensor<2>, Tensor<4>) {
        let mut trace = Vec::with_capacity(self.blocks.len());
        let mut h = x;
        for block in &self.blocks {
            let (out, a1) = block.forward_traced(h.clone());
            trace.push((h, a1));
            h = out;
        }
        let [b, w, s, _] = h.dims();
        let grad = seed.reshape([b, w, 1, 1]).expand([b, w, s, s]) * relu_mask(h.clone());
        let grad = self
            .blocks
            .iter()
            .zip(trace)
            .rev()
            .fold(grad, |grad, (block, (x, a1))| {
                block.input_gradient(&x, a1, grad)
            });
        (relu(h).sum_dim(3).sum_dim(2).flatten(1, 3), grad)
    }

    /// The head's gradient with respect to the features, one row per item: `[B, w]`.
    pub fn head_gradient(&self, batch: usize) -> Option<Tensor<2>> {
        layers::output_layer_gradient(std::slice::from_ref(&self.head), batch)
    }

    /// Width of [`Self::features`].
    pub fn feature_dim(&self) -> usize {
        self.head.weight.dims()[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count<M: Module>(module: &M) -> usize {
        module.num_params()
    }

    #[test]
    fn shapes_and_sizes_of_the_cifar_networks() {
        let device = Device::flex();
        let mut init = WeightInit::new(1);
        let g = ResnetGeneratorConfig::new(32, 3)
            .init(&device, &mut init)
            .unwrap();
        let d = ResnetDiscriminatorConfig::new(32, 3)
            .init(&device, &mut init)
            .unwrap();
        let x = g.forward(Tensor::zeros([2, 128], &device));
        assert_eq!(x.dims(), [2, 3, 32, 32]);
        assert_eq!(d.features(x.clone()).dims(), [2, 128]);
        assert_eq!(d.forward(x).dims(), [2, 1]);
        assert_eq!((g.blocks.len(), d.blocks.len()), (3, 4));
        assert_eq!(g.norm_widths(), vec![256; 7]);
        // G: Linear 128 -> 4,096 (528,384), three blocks of two 3x3 and one 1x1 convolution
        // with biases and two BatchNorms (1,246,976 each), a BatchNorm (512) and the 3x3
        // convolution to RGB (6,915): 4,276,739 weights, plus the running mean and variance
        // of its 1,792 BatchNorm channels, which `num_params` counts too. D: the first block
        // (151,680), a down-block (311,680), two plain blocks (295,168 each), the head (129).
        assert_eq!(count(&g), 4_276_739 + 2 * 1_792);
        assert_eq!(count(&d), 1_053_825);
    }

    #[test]
    fn resampling_is_nearest_up_and_mean_down() {
        let device = Device::flex();
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0], &device).reshape([1, 1, 2, 2]);
        let up = upsample(x.clone());
        let values = up
            .clone()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(
            values,
            [
                1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.
            ]
        );
        let back = avg_pool(up)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(back, [1.0, 2.0, 3.0, 4.0]);
        let pooled = avg_pool(x)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(pooled, [2.5]);
    }

    #[test]
    fn rejects_sides_that_are_not_powers_of_two() {
        let device = Device::flex();
        for size in [4, 28, 48] {
            let g = ResnetGeneratorConfig::new(size, 3).init(&device, &mut WeightInit::new(0));
            let d = ResnetDiscriminatorConfig::new(size, 3).init(&device, &mut WeightInit::new(0));
            assert!(g.is_err() && d.is_err(), "{size}");
        }
    }
}
