//! The U-Net generator of pix2pix (Isola et al. 2017; `UnetGenerator` of the authors' code),
//! for square images whose side is a power of two, at least 4.
//!
//! The encoder halves the image with `Conv(k4 s2 p1)` until it is 1x1, `depth = log2(size)`
//! times; level `l` has `width * min(2^l, 8)` channels. Every encoder convolution but the
//! first takes a LeakyReLU(0.2) of its input, and all but the first and the last are followed
//! by a normalisation. The decoder mirrors it with `ReLU -> ConvT(k4 s2 p1) -> norm`, and joins
//! each decoded map to the encoder map of the same size along the channels (skip connections,
//! the encoder's map first) before the next level; the last transposed convolution has a bias
//! and ends in tanh. Dropout on the decoder of the three levels above the bottleneck (but not
//! the top level) is the generator's noise, as in pix2pix, which keeps it on at test time too.
//! At 256x256 with width 64 this is the authors' `unet_256`.
//!
//! The skip connection carries the encoder map itself; the authors' code, through an
//! in-place LeakyReLU, carries the map after that activation.
//!
//! Dropout masks are an input, drawn by the caller from a seeded host RNG like all of this
//! crate's randomness; [`UnetGenerator::noise_dim`] is their size per item.

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;

use crate::error::{ModelError, positive};
use crate::init::WeightInit;
use crate::layers::{self, ImageNorm, NormKind};

/// Encoder levels (and decoder levels) of a U-Net over `image_size` x `image_size` images:
/// halvings down to 1x1.
fn unet_depth(image_size: usize) -> Result<usize, ModelError> {
    if image_size < 4 || !image_size.is_power_of_two() {
        return Err(ModelError::InvalidSize {
            field: "image_size",
            value: image_size,
            reason: "the U-Net halves the image down to 1x1 and doubles it back, so the image \
                     size must be a power of two of at least 4"
                .into(),
        });
    }
    Ok(image_size.trailing_zeros() as usize)
}

/// The decoder levels with dropout: the three above the bottleneck, never the top one.
fn dropout_levels(depth: usize) -> std::ops::Range<usize> {
    let innermost = depth - 1;
    innermost.saturating_sub(3).max(1)..innermost
}

/// Configuration of [`UnetGenerator`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UnetGeneratorConfig {
    /// Channels of the input image.
    pub in_channels: usize,
    /// Channels of the output image.
    pub out_channels: usize,
    /// Image side, a power of two >= 4.
    pub image_size: usize,
    /// Channels of the first encoder level (`ngf`, 64).
    pub width: usize,
    /// The normalisation after the convolutions (batch).
    pub norm: NormKind,
    /// Probability that dropout zeroes a decoder unit (0.5); 0 for none.
    pub dropout: f64,
}

impl UnetGeneratorConfig {
    /// pix2pix's generator from `in_channels` to `out_channels` images of side `image_size`.
    pub fn new(in_channels: usize, out_channels: usize, image_size: usize) -> Self {
        Self {
            in_channels,
            out_channels,
            image_size,
            width: 64,
            norm: NormKind::Batch,
            dropout: 0.5,
        }
    }

    /// Channels of encoder level `level`.
    fn level_width(&self, level: usize) -> usize {
        self.width * (1usize << level.min(3))
    }

    /// Shapes `[C, H, W]` of the dropout masks, in the order the noise holds them (the
    /// deepest level first, as the decoder runs); none without dropout or for an impossible
    /// image size.
    fn mask_shapes(&self) -> Vec<[usize; 3]> {
        let Ok(depth) = unet_depth(self.image_size) else {
            return Vec::new();
        };
        if self.dropout == 0.0 {
            return Vec::new();
        }
        dropout_levels(depth)
            .rev()
            .map(|level| {
                let side = self.image_size >> level;
                [self.level_width(level - 1), side, side]
            })
            .collect()
    }

    /// Noise values per item the generator takes: the units of its dropout masks.
    pub fn noise_dim(&self) -> usize {
        self.mask_shapes()
            .iter()
            .map(|s| s.iter().product::<usize>())
            .sum()
    }

    /// Builds the generator; rejects a side that is not a power of two >= 4 and a dropout
    /// probability outside `[0, 1)`.
    pub fn init(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<UnetGenerator, ModelError> {
        positive("in_channels", self.in_channels)?;
        positive("out_channels", self.out_channels)?;
        positive("g_width", self.width)?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ModelError::InvalidSize {
                field: "dropout",
                value: 0,
                reason: format!("{} is not a probability below 1", self.dropout),
            });
        }
        let depth = unet_depth(self.image_size)?;
        // With batch normalisation the reference leaves every bias out but the last one's.
        let bias = self.norm == NormKind::Instance;
        let mut down = Vec::with_capacity(depth);
        for level in 0..depth {
            let c_in = match level {
                0 => self.in_channels,
                _ => self.level_width(level - 1),
            };
            let c_out = self.level_width(level);
            let normalised = level > 0 && level < depth - 1;
            let mut conv = init.conv2d([c_in, c_out], 4, 2, 1, false, device);
            conv.bias = bias.then(|| init.zero_bias(c_out, device));
            let norm = match normalised {
                true => ImageNorm::new(self.norm, c_out, init, device),
                false => ImageNorm::none(),
            };
            down.push(UnetDown { conv, norm });
        }
        let mut up = Vec::with_capacity(depth);
        for level in 0..depth {
            let c_in = match level == depth - 1 {
                true => self.level_width(level),
                false => 2 * self.level_width(level),
            };
            let c_out = match level {
                0 => self.out_channels,
                _ => self.level_width(level - 1),
            };
            let mut conv = init.conv_transpose2d([c_in, c_out], 4, 2, 1, 0, device);
            conv.bias = (bias || level == 0).then(|| init.zero_bias(c_out, device));
            let norm = match level {
                0 => ImageNorm::none(),
                _ => ImageNorm::new(self.norm, c_out, init, device),
            };
            up.push(UnetUp { conv, norm });
        }
        Ok(UnetGenerator {
            down,
            up,
            image_size: self.image_size,
            mask_shapes: self.mask_shapes(),
        })
    }
}

/// An encoder level: `Conv(k4 s2 p1)` and its normalisation.
#[derive(Module, Debug)]
pub struct UnetDown {
    conv: Conv2d,
    norm: ImageNorm,
}

/// A decoder level: `ConvT(k4 s2 p1)` and its normalisation.
#[derive(Module, Debug)]
pub struct UnetUp {
    conv: ConvTranspose2d,
    norm: ImageNorm,
}

/// pix2pix's U-Net generator.
///
/// # Shapes
/// - source: `[B, C_in, S, S]`, noise: `[B, noise_dim]` dropout masks
/// - output: `[B, C_out, S, S]` in `[-1, 1]`
#[derive(Module, Debug)]
pub struct UnetGenerator {
    down: Vec<UnetDown>,
    up: Vec<UnetUp>,
    image_size: usize,
    /// Shapes `[C, H, W]` of the dropout masks, deepest decoder level first; the levels
    /// `depth - 1 - len..depth - 1` apply them.
    mask_shapes: Vec<[usize; 3]>,
}

impl UnetGenerator {
    /// Values of noise per item: the units of every dropout mask (0 without dropout). Each
    /// value keeps its unit scaled (`1 / (1 - p)`, with probability `1 - p`) or drops it (0);
    /// all ones switch dropout off.
    pub fn noise_dim(&self) -> usize {
        self.mask_shapes
            .iter()
            .map(|s| s.iter().product::<usize>())
            .sum()
    }

    /// Channels of the images it translates.
    pub fn in_channels(&self) -> usize {
        self.down[0].conv.weight.dims()[1]
    }

    /// Side of the images this generator translates.
    pub fn image_size(&self) -> usize {
        self.image_size
    }

    /// Translates `source` with the dropout masks in `noise`.
    pub fn forward(&self, source: Tensor<4>, noise: Tensor<2>) -> Tensor<4> {
        let depth = self.down.len();
        let mut skips = Vec::with_capacity(depth);
        let mut x = source;
        for (level, down) in self.down.iter().enumerate() {
            let input = match level {
                0 => x,
                _ => layers::leaky_relu(x, 0.2),
            };
            x = down
                .norm
                .forward_leaky_relu(layers::conv2d(&down.conv, input), 1.0);
            skips.push(x.clone());
        }
        skips.pop(); // the bottleneck is joined to nothing
        let batch = x.dims()[0];
        let mut masks = self.mask_shapes.iter().scan(0, |offset, &[c, h, w]| {
            let start = *offset;
            *offset += c * h * w;
            Some(
                noise
                    .clone()
                    .narrow(1, start, c * h * w)
                    .reshape([batch, c, h, w]),
            )
        });
        let dropped = depth - 1 - self.mask_shapes.len()..depth - 1;
        for level in (0..depth).rev() {
            let up = &self.up[level];
            // ReLU (a LeakyReLU of slope 0) on the way in.
            x = up.norm.forward_leaky_relu(
                layers::conv_transpose2d(&up.conv, layers::leaky_relu(x, 0.0)),
                1.0,
            );
            if dropped.contains(&level)
                && let Some(mask) = masks.next()
            {
                x = x * mask;
            }
            x = match skips.pop() {
                Some(skip) => Tensor::cat(vec![skip, x], 1), // [B, 2c, s, s]
                None => layers::tanh(x),
            };
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unet_256_has_the_reference_layers() {
        let device = Device::flex();
        let g = UnetGeneratorConfig::new(3, 3, 256)
            .init(&device, &mut WeightInit::new(0))
            .unwrap();
        let down: Vec<_> = g.down.iter().map(|d| d.conv.weight.dims()[0]).collect();
        assert_eq!(down, [64, 128, 256, 512, 512, 512, 512, 512]);
        let up: Vec<_> =
            g.up.iter()
                .map(|u| u.conv.weight.dims()[..2].to_vec())
                .collect();
        assert_eq!(up[0], [128, 3]);
        assert_eq!(up[3], [1024, 256]);
        assert_eq!(up[7], [512, 512]);
        // Dropout on the three ngf*8 decoder levels above the bottleneck, as in the reference.
        assert_eq!(g.mask_shapes, [[512, 4, 4], [512, 8, 8], [512, 16, 16]]);
        assert_eq!(g.noise_dim(), 512 * (4 * 4 + 8 * 8 + 16 * 16));
        assert_eq!(
            UnetGeneratorConfig::new(3, 3, 256).noise_dim(),
            g.noise_dim()
        );
        let params: usize = g.num_params();
        // pix2pix's unet_256 with batch norm: the 54,413,955 parameters ("54.414 M") its
        // training prints (only the last convolution has a bias), and the running mean and
        // variance of its 4,928 BatchNorm channels, which `num_params` counts too.
        assert_eq!(params, 54_413_955 + 2 * 4_928);
    }

    #[test]
    fn translates_at_small_sizes_with_either_norm() {
        let device = Device::flex();
        for (size, norm) in [
            (4, NormKind::Batch),
            (32, NormKind::Instance),
            (64, NormKind::Batch),
        ] {
            let mut config = UnetGeneratorConfig::new(1, 3, size);
            config.width = 8;
            config.norm = norm;
            let g = config.init(&device, &mut WeightInit::new(1)).unwrap();
            let noise = Tensor::ones([2, g.noise_dim()], &device);
            let y = g.forward(Tensor::ones([2, 1, size, size], &device), noise);
            assert_eq!(y.dims(), [2, 3, size, size]);
            let values = y.into_data().try_to_vec::<f32>().unwrap();
            assert!(values.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
        }
    }

    #[test]
    fn dropout_masks_change_the_output() {
        let device = Device::flex();
        let mut config = UnetGeneratorConfig::new(3, 3, 32);
        config.width = 8;
        let g = config.init(&device, &mut WeightInit::new(2)).unwrap();
        assert!(g.noise_dim() > 0);
        let source = Tensor::<4>::random(
            [1, 3, 32, 32],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        let keep = g.forward(source.clone(), Tensor::ones([1, g.noise_dim()], &device));
        let drop = g.forward(source, Tensor::zeros([1, g.noise_dim()], &device));
        let change: f32 = (keep - drop).abs().max().into_scalar();
        assert!(change > 1e-4, "{change}");
    }

    #[test]
    fn rejects_impossible_settings() {
        let device = Device::flex();
        for size in [0, 2, 28, 48] {
            let cfg = UnetGeneratorConfig::new(3, 3, size);
            assert!(
                cfg.init(&device, &mut WeightInit::new(0)).is_err(),
                "{size}"
            );
        }
        let mut cfg = UnetGeneratorConfig::new(3, 3, 32);
        cfg.dropout = 1.0;
        assert!(cfg.init(&device, &mut WeightInit::new(0)).is_err());
    }
}
