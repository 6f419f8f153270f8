//! The PatchGAN discriminator of pix2pix (Isola et al. 2017; `NLayerDiscriminator` of the
//! authors' code): a fully convolutional network that scores every overlapping patch of its
//! input as real or fake, rather than the whole image.
//!
//! `Conv(C -> f, k4 s2 p1) LeakyReLU(0.2)`, then `n - 1` blocks `Conv(k4 s2 p1) norm
//! LeakyReLU` doubling the channels (at most `8 f`), one more at stride 1, and `Conv(k4 s1 p1)`
//! to one logit per patch. With `n` stride-2 layers a logit sees a square of
//! [`patch_receptive_field`]`(n)` pixels: 16, 34, 70 for `n` = 1, 2, 3 (pix2pix's 70x70
//! PatchGAN at 256x256). [`PatchGanDiscriminatorConfig::new`] scales `n` with the image so a
//! patch covers about the same share of it: 3 at 256, one fewer per halving, at least 1.
//!
//! In pix2pix the discriminator scores the input image and the output (or target) image
//! together, joined along the channels, so `channels` is the sum of both.

use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::error::{ModelError, positive};
use crate::init::WeightInit;
use crate::layers::{ImageNorm, NormKind};

/// Side in pixels of the square of input that one logit of a PatchGAN with `layers` stride-2
/// convolutions sees.
pub fn patch_receptive_field(layers: usize) -> usize {
    // Two stride-1 4x4 convolutions (7 pixels), then each stride-2 4x4 one: 2r + 2.
    (0..layers).fold(7, |field, _| 2 * field + 2)
}

/// Configuration of [`PatchGanDiscriminator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PatchGanDiscriminatorConfig {
    /// Input channels (pix2pix: the input image's and the output image's together).
    pub channels: usize,
    /// Image side the discriminator is built for (at least 8).
    pub image_size: usize,
    /// Channels of the first convolution (`ndf`, 64).
    pub width: usize,
    /// Stride-2 convolutions (`n_layers`, at least 1).
    pub layers: usize,
    /// The normalisation after the hidden convolutions (batch).
    pub norm: NormKind,
}

impl PatchGanDiscriminatorConfig {
    /// pix2pix's discriminator for `channels` x `image_size` x `image_size` inputs, with 3
    /// stride-2 layers at 256 and one fewer per halving of the image (at least 1).
    pub fn new(channels: usize, image_size: usize) -> Self {
        let octaves_below_256 = 8usize.saturating_sub(image_size.max(1).ilog2() as usize);
        Self {
            channels,
            image_size,
            width: 64,
            layers: 3usize.saturating_sub(octaves_below_256).max(1),
            norm: NormKind::Batch,
        }
    }

    /// Side of the map of logits for an input of [`Self::image_size`].
    pub fn patches_per_side(&self) -> usize {
        // Each stride-2 layer halves (rounding down); each k4 s1 p1 layer loses one pixel.
        (self.image_size >> self.layers).saturating_sub(2)
    }

    /// Builds the discriminator; rejects an image too small to leave a map of logits.
    pub fn init(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<PatchGanDiscriminator, ModelError> {
        positive("channels", self.channels)?;
        positive("d_width", self.width)?;
        positive("d_layers", self.layers)?;
        if self.patches_per_side() == 0 {
            return Err(ModelError::InvalidSize {
                field: "image_size",
                value: self.image_size,
                reason: format!(
                    "a PatchGAN with {} stride-2 layers needs images of at least {} pixels",
                    self.layers,
                    3usize << self.layers
                ),
            });
        }
        let bias = self.norm == NormKind::Instance;
        let width = |n: usize| self.width * (1usize << n.min(3));
        let mut first = init.conv2d([self.channels, self.width], 4, 2, 1, false, device);
        first.bias = Some(init.zero_bias(self.width, device));
        let mut blocks = Vec::with_capacity(self.layers);
        for n in 1..=self.layers {
            let stride = if n < self.layers { 2 } else { 1 };
            let mut conv = init.conv2d([width(n - 1), width(n)], 4, stride, 1, false, device);
            conv.bias = bias.then(|| init.zero_bias(width(n), device));
            let norm = ImageNorm::new(self.norm, width(n), init, device);
            blocks.push(PatchBlock { conv, norm });
        }
        let mut out = init.conv2d([width(self.layers), 1], 4, 1, 1, false, device);
        out.bias = Some(init.zero_bias(1, device));
        Ok(PatchGanDiscriminator {
            first,
            blocks,
            out,
            feature_side: self.patches_per_side() + 1,
        })
    }
}

/// Conv2d -> normalisation -> LeakyReLU(0.2).
#[derive(Module, Debug)]
pub struct PatchBlock {
    conv: Conv2d,
    norm: ImageNorm,
}

/// pix2pix's PatchGAN discriminator.
///
/// # Shapes
/// - x: `[B, C, S, S]`
/// - output: `[B, P]` logits, one per patch (`P = patches_per_side^2`)
#[derive(Module, Debug)]
pub struct PatchGanDiscriminator {
    first: Conv2d,
    blocks: Vec<PatchBlock>,
    out: Conv2d,
    /// Side of the last hidden map at the image size it was built for.
    feature_side: usize,
}

impl PatchGanDiscriminator {
    /// One logit per patch of `x`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// The last hidden map `[B, c, s, s]`: `[B, C, S, S] -> [B, c, s, s]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = crate::layers::leaky_relu(crate::layers::conv2d(&self.first, x), 0.2);
        for block in &self.blocks {
            x = block
                .norm
                .forward_leaky_relu(crate::layers::conv2d(&block.conv, x), 0.2);
        }
        x
    }

    /// The output convolution: `[B, c, s, s] -> [B, P]`.
    pub fn head(&self, features: Tensor<4>) -> Tensor<2> {
        crate::layers::conv2d(&self.out, features).flatten(1, 3)
    }

    /// Values of the last hidden map at the image size it was built for, `c * s * s`.
    pub fn feature_dim(&self) -> usize {
        self.out.weight.dims()[1] * self.feature_side * self.feature_side
    }

    /// Flattened features `[B, c * s * s]` back to the map `[B, c, s, s]` (square).
    pub fn unflatten(&self, features: Tensor<2>) -> Tensor<4> {
        let [batch, values] = features.dims();
        let channels = self.out.weight.dims()[1];
        let side = ((values / channels) as f64).sqrt().round() as usize;
        features.reshape([batch, channels, side, side])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_70x70_patchgan() {
        assert_eq!(
            (1..=3).map(patch_receptive_field).collect::<Vec<_>>(),
            [16, 34, 70]
        );
        let config = PatchGanDiscriminatorConfig::new(6, 256);
        assert_eq!(config.layers, 3);
        assert_eq!(config.patches_per_side(), 30);
        let d = config
            .init(&Device::flex(), &mut WeightInit::new(0))
            .unwrap();
        // The authors' basic discriminator for pix2pix's 6 input channels: 2,768,705
        // parameters ("2.769 M" in its training log), and the running mean and variance of
        // its 896 BatchNorm channels, which `num_params` counts too.
        assert_eq!(d.num_params(), 2_768_705 + 2 * 896);
    }

    #[test]
    fn scales_with_the_image() {
        let device = Device::flex();
        for (size, layers, side) in [(128, 2, 30), (64, 1, 30), (32, 1, 14), (8, 1, 2)] {
            let mut config = PatchGanDiscriminatorConfig::new(4, size);
            assert_eq!(config.layers, layers, "{size}");
            config.width = 8;
            config.norm = NormKind::Instance;
            let d = config.init(&device, &mut WeightInit::new(3)).unwrap();
            let logits = d.forward(Tensor::zeros([2, 4, size, size], &device));
            assert_eq!(logits.dims(), [2, side * side], "{size}");
        }
    }

    #[test]
    fn rejects_images_too_small_for_its_layers() {
        let mut config = PatchGanDiscriminatorConfig::new(3, 16);
        config.layers = 3;
        assert!(
            config
                .init(&Device::flex(), &mut WeightInit::new(0))
                .is_err()
        );
        let config = PatchGanDiscriminatorConfig::new(3, 4);
        assert!(
            config
                .init(&Device::flex(), &mut WeightInit::new(0))
                .is_err()
        );
    }
}
