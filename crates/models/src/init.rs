//! The reference initialisation, drawn on the host from a seeded RNG.
//!
//! Drawing on the host rather than with the device RNG makes the initial weights a function
//! of the seed alone: the same on flex, LibTorch and wgpu, which is what backend parity tests
//! and reproducible runs need.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal, Uniform};
use rand_pcg::Pcg64Mcg;

use crate::layers::{ClassAffine, ClassEmbedding};

/// Standard deviation of the DCGAN weight initialisation (Radford et al. 2016).
pub const WEIGHT_STD: f32 = 0.02;

/// A seeded source of initial weights.
pub struct WeightInit {
    rng: Pcg64Mcg,
}

impl WeightInit {
    /// A source whose draws depend only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Pcg64Mcg::seed_from_u64(seed),
        }
    }

    fn normal(&mut self, n: usize, mean: f32, std: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let x: f32 = StandardNormal.sample(&mut self.rng);
                mean + std * x
            })
            .collect()
    }

    fn uniform(&mut self, n: usize, bound: f32) -> Vec<f32> {
        match Uniform::new_inclusive(-bound, bound) {
            Ok(dist) => (0..n).map(|_| dist.sample(&mut self.rng)).collect(),
            Err(_) => vec![0.0; n],
        }
    }

    fn param<const D: usize>(
        &self,
        values: Vec<f32>,
        shape: [usize; D],
        device: &Device,
    ) -> Param<Tensor<D>> {
        Param::from_data(TensorData::new(values, shape), device)
    }

    /// A random unit vector of length `n` (normal draws, normalised).
    pub fn unit_vector(&mut self, n: usize, device: &Device) -> Tensor<1> {
        let mut values = self.normal(n, 0.0, 1.0);
        let norm = values
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        values.iter_mut().for_each(|v| *v /= norm);
        Tensor::from_data(TensorData::new(values, [n]), device)
    }

    /// `N(0, 0.02)` weights, PyTorch's `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` bias.
    pub fn linear(&mut self, d_in: usize, d_out: usize, bias: bool, device: &Device) -> Linear {
        let mut layer = LinearConfig::new(d_in, d_out)
            .with_bias(false)
            .with_initializer(Initializer::Zeros)
            .init(device);
        // burn stores a linear weight as [d_in, d_out].
        let w = self.normal(d_in * d_out, 0.0, WEIGHT_STD);
        layer.weight = self.param(w, [d_in, d_out], device);
        if bias {
            let b = self.uniform(d_out, 1.0 / (d_in as f32).sqrt());
            layer.bias = Some(self.param(b, [d_out], device));
        }
        layer
    }

    /// `N(0, 2 / d_in)` weights (He et al. 2015), zero bias: GAIN's reference initialisation.
    pub fn he_linear(&mut self, d_in: usize, d_out: usize, device: &Device) -> Linear {
        let mut layer = LinearConfig::new(d_in, d_out)
            .with_initializer(Initializer::Zeros)
            .init(device);
        let w = self.normal(d_in * d_out, 0.0, (2.0 / d_in as f32).sqrt());
        layer.weight = self.param(w, [d_in, d_out], device);
        layer
    }

    /// A square-kernel convolution with symmetric explicit padding.
    pub fn conv2d(
        &mut self,
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
        device: &Device,
    ) -> Conv2d {
        let [c_in, c_out] = channels;
        let mut layer = Conv2dConfig::new(channels, [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(
                padding, padding, padding, padding,
            ))
            .with_bias(false)
            .with_initializer(Initializer::Zeros)
            .init(device);
        let shape = [c_out, c_in, kernel, kernel];
        let w = self.normal(shape.iter().product(), 0.0, WEIGHT_STD);
        layer.weight = self.param(w, shape, device);
        if bias {
            let fan_in = c_in * kernel * kernel;
            let b = self.uniform(c_out, 1.0 / (fan_in as f32).sqrt());
            layer.bias = Some(self.param(b, [c_out], device));
        }
        layer
    }

    /// A square-kernel convolution with `padding` on every side, Glorot-uniform weights
    /// (`U(-b, b)`, `b = gain * sqrt(6 / (fan_in + fan_out))`, as PyTorch's
    /// `xavier_uniform_`) and a zero bias: the initialisation of the SNGAN ResNets.
    pub fn xavier_conv2d(
        &mut self,
        channels: [usize; 2],
        kernel: usize,
        padding: usize,
        gain: f32,
        device: &Device,
    ) -> Conv2d {
        let [c_in, c_out] = channels;
        let mut layer = Conv2dConfig::new(channels, [kernel, kernel])
            .with_padding(PaddingConfig2d::Explicit(
                padding, padding, padding, padding,
            ))
            .with_initializer(Initializer::Zeros)
            .init(device);
        let fans = ((c_in + c_out) * kernel * kernel) as f32;
        let shape = [c_out, c_in, kernel, kernel];
        let w = self.uniform(shape.iter().product(), gain * (6.0 / fans).sqrt());
        layer.weight = self.param(w, shape, device);
        layer
    }

    /// A linear layer with Glorot-uniform weights (gain 1) and a zero bias.
    pub fn xavier_linear(&mut self, d_in: usize, d_out: usize, device: &Device) -> Linear {
        let mut layer = LinearConfig::new(d_in, d_out)
            .with_initializer(Initializer::Zeros)
            .init(device);
        let w = self.uniform(d_in * d_out, (6.0 / (d_in + d_out) as f32).sqrt());
        layer.weight = self.param(w, [d_in, d_out], device);
        layer
    }

    /// A square-kernel transposed convolution without bias (every model here follows it by
    /// BatchNorm or tanh, as in the reference).
    pub fn conv_transpose2d(
        &mut self,
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
        output_padding: usize,
        device: &Device,
    ) -> ConvTranspose2d {
        let [c_in, c_out] = channels;
        let mut layer = ConvTranspose2dConfig::new(channels, [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding([padding, padding])
            .with_padding_out([output_padding, output_padding])
            .with_bias(false)
            .with_initializer(Initializer::Zeros)
            .init(device);
        // burn stores a transposed-convolution weight as [c_in, c_out, k, k], as PyTorch does.
        let shape = [c_in, c_out, kernel, kernel];
        let w = self.normal(shape.iter().product(), 0.0, WEIGHT_STD);
        layer.weight = self.param(w, shape, device);
        layer
    }

    /// A zero bias over `channels` (pix2pix's initialisation of every bias).
    pub fn zero_bias(&self, channels: usize, device: &Device) -> Param<Tensor<1>> {
        self.param(vec![0.0; channels], [channels], device)
    }

    /// A class table `[classes, dim]` drawn from `N(0, std)`.
    pub fn embedding(
        &mut self,
        classes: usize,
        dim: usize,
        std: f32,
        device: &Device,
    ) -> ClassEmbedding {
        let w = self.normal(classes * dim, 0.0, std);
        ClassEmbedding {
            weight: self.param(w, [classes, dim], device),
        }
    }

    /// Per-class gain and bias tables over `channels`, all zero (the identity).
    pub fn class_affine(&self, classes: usize, channels: usize, device: &Device) -> ClassAffine {
        let zeros = || ClassEmbedding {
            weight: self.param(vec![0.0; classes * channels], [classes, channels], device),
        };
        ClassAffine {
            gain: zeros(),
            bias: zeros(),
        }
    }

    /// BatchNorm with `gamma ~ N(1, 0.02)`, `beta = 0`, PyTorch's epsilon and momentum.
    pub fn batch_norm(&mut self, features: usize, device: &Device) -> BatchNorm {
        let mut layer = BatchNormConfig::new(features)
            .with_epsilon(1e-5)
            .with_momentum(0.1)
            .init(device);
        let gamma = self.normal(features, 1.0, WEIGHT_STD);
        layer.gamma = self.param(gamma, [features], device);
        layer
    }
}
