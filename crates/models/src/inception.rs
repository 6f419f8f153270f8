//! Inception-v3 as the Fréchet Inception Distance defines it: the network of TensorFlow's FID
//! code (Heusel et al. 2017) in the form pytorch-fid ports it, so that a score computed here is
//! the score the papers report.
//!
//! It differs from torchvision's Inception-v3 where TensorFlow's graph did: the average pools
//! of the A, C and first E blocks leave the padding out of the mean, the last E block pools by
//! maximum, and there are 1008 classes. Pictures are resized to 299x299 bilinearly (half-pixel
//! centres, `align_corners = false`), scaled from `[0, 1]` to `[-1, 1]`, and the 2048 features
//! are the global average of the last block (`pool3`). [`FidInception::class_logits`] maps them
//! to the 1008 classes as the Inception Score's original code does: the final layer's weights
//! without its bias (torch-fidelity's `logits_unbiased`).
//!
//! [`FidInception::load`] reads pytorch-fid's weight file
//! (`pt_inception-2015-12-05-6726825d.pth`) or any state dict with the same keys; the network
//! built by [`FidInception::new`] has placeholder weights and is only a target to load into.

use std::path::Path;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PytorchStore};
use burn::tensor::module::{adaptive_avg_pool2d, interpolate};
use burn::tensor::ops::{AvgPoolOptions, InterpolateMode, InterpolateOptions, MaxPoolOptions};
use ganforge_kernels::{avg_pool2d, max_pool2d};

use crate::layers::{batch_norm_leaky_relu, conv2d};

/// Side of the square pictures the network sees.
pub const INCEPTION_SIZE: usize = 299;
/// Length of a feature vector (`pool3`).
pub const INCEPTION_FEATURES: usize = 2048;
/// Classes of the final layer (1000 ImageNet classes and 8 unused, as TensorFlow's graph).
pub const INCEPTION_CLASSES: usize = 1008;

/// Why weights could not be loaded into [`FidInception`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot load Inception-v3 weights from {path}: {reason}")]
pub struct InceptionLoadError {
    /// The weight file.
    pub path: String,
    /// What went wrong.
    pub reason: String,
}

/// Convolution without bias, BatchNorm (epsilon 0.001) and ReLU.
#[derive(Module, Debug)]
struct BasicConv2d {
    conv: Conv2d,
    bn: BatchNorm,
}

impl BasicConv2d {
    /// A convolution padded to keep the size at stride 1 (`kernel / 2` on each side).
    fn new(channels: [usize; 2], kernel: [usize; 2], stride: usize, device: &Device) -> Self {
        let [ph, pw] = kernel.map(|k| k / 2);
        let padding = PaddingConfig2d::Explicit(ph, pw, ph, pw);
        Self::with_padding(channels, kernel, stride, padding, device)
    }

    /// A square convolution without padding (the stem's and the reductions').
    fn valid(channels: [usize; 2], kernel: usize, stride: usize, device: &Device) -> Self {
        let padding = PaddingConfig2d::Valid;
        Self::with_padding(channels, [kernel, kernel], stride, padding, device)
    }

    fn with_padding(
        channels: [usize; 2],
        kernel: [usize; 2],
        stride: usize,
        padding: PaddingConfig2d,
        device: &Device,
    ) -> Self {
        Self {
            conv: Conv2dConfig::new(channels, kernel)
                .with_stride([stride, stride])
                .with_padding(padding)
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(channels[1])
                .with_epsilon(1e-3)
                .init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        batch_norm_leaky_relu(&self.bn, conv2d(&self.conv, x), 0.0)
    }
}

/// 3x3 pooling at stride 1 that keeps the size: the mean over the pixels inside the picture
/// (TensorFlow's, padding left out of the count).
fn avg_pool_same(x: Tensor<4>) -> Tensor<4> {
    let options = AvgPoolOptions::new([3, 3])
        .with_stride([1, 1])
        .with_padding([1, 1])
        .with_count_include_pad(false);
    avg_pool2d(x, options)
}

/// 3x3 max pooling at stride 2 without padding.
fn max_pool_reduce(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]))
}

/// Mixed_5b..d: 1x1, 5x5, double 3x3 and pooled branches.
#[derive(Module, Debug)]
struct InceptionA {
    branch1x1: BasicConv2d,
    branch5x5_1: BasicConv2d,
    branch5x5_2: BasicConv2d,
    branch3x3dbl_1: BasicConv2d,
    branch3x3dbl_2: BasicConv2d,
    branch3x3dbl_3: BasicConv2d,
    branch_pool: BasicConv2d,
}

impl InceptionA {
    fn new(input: usize, pool_features: usize, device: &Device) -> Self {
        Self {
            branch1x1: BasicConv2d::new([input, 64], [1, 1], 1, device),
            branch5x5_1: BasicConv2d::new([input, 48], [1, 1], 1, device),
            branch5x5_2: BasicConv2d::new([48, 64], [5, 5], 1, device),
            branch3x3dbl_1: BasicConv2d::new([input, 64], [1, 1], 1, device),
            branch3x3dbl_2: BasicConv2d::new([64, 96], [3, 3], 1, device),
            branch3x3dbl_3: BasicConv2d::new([96, 96], [3, 3], 1, device),
            branch_pool: BasicConv2d::new([input, pool_features], [1, 1], 1, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b5 = self
            .branch5x5_2
            .forward(self.branch5x5_1.forward(x.clone()));
        let b3 = self.branch3x3dbl_1.forward(x.clone());
        let b3 = self.branch3x3dbl_3.forward(self.branch3x3dbl_2.forward(b3));
        let pool = self.branch_pool.forward(avg_pool_same(x));
        Tensor::cat(vec![b1, b5, b3, pool], 1)
    }
}

/// Mixed_6a: the reduction from 35x35 to 17x17.
#[derive(Module, Debug)]
struct InceptionB {
    branch3x3: BasicConv2d,
    branch3x3dbl_1: BasicConv2d,
    branch3x3dbl_2: BasicConv2d,
    branch3x3dbl_3: BasicConv2d,
}

impl InceptionB {
    fn new(input: usize, device: &Device) -> Self {
        Self {
            branch3x3: BasicConv2d::valid([input, 384], 3, 2, device),
            branch3x3dbl_1: BasicConv2d::new([input, 64], [1, 1], 1, device),
            branch3x3dbl_2: BasicConv2d::new([64, 96], [3, 3], 1, device),
            branch3x3dbl_3: BasicConv2d::valid([96, 96], 3, 2, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self.branch3x3.forward(x.clone());
        let dbl = self.branch3x3dbl_1.forward(x.clone());
        let dbl = self
            .branch3x3dbl_3
            .forward(self.branch3x3dbl_2.forward(dbl));
        Tensor::cat(vec![b3, dbl, max_pool_reduce(x)], 1)
    }
}

/// Mixed_6b..e: factorised 7x7 branches (1x7 and 7x1).
#[derive(Module, Debug)]
struct InceptionC {
    branch1x1: BasicConv2d,
    branch7x7_1: BasicConv2d,
    branch7x7_2: BasicConv2d,
    branch7x7_3: BasicConv2d,
    branch7x7dbl_1: BasicConv2d,
    branch7x7dbl_2: BasicConv2d,
    branch7x7dbl_3: BasicConv2d,
    branch7x7dbl_4: BasicConv2d,
    branch7x7dbl_5: BasicConv2d,
    branch_pool: BasicConv2d,
}

impl InceptionC {
    fn new(input: usize, c7: usize, device: &Device) -> Self {
        let conv = |channels, kernel| BasicConv2d::new(channels, kernel, 1, device);
        Self {
            branch1x1: conv([input, 192], [1, 1]),
            branch7x7_1: conv([input, c7], [1, 1]),
            branch7x7_2: conv([c7, c7], [1, 7]),
            branch7x7_3: conv([c7, 192], [7, 1]),
            branch7x7dbl_1: conv([input, c7], [1, 1]),
            branch7x7dbl_2: conv([c7, c7], [7, 1]),
            branch7x7dbl_3: conv([c7, c7], [1, 7]),
            branch7x7dbl_4: conv([c7, c7], [7, 1]),
            branch7x7dbl_5: conv([c7, 192], [1, 7]),
            branch_pool: conv([input, 192], [1, 1]),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b7 = [&self.branch7x7_1, &self.branch7x7_2, &self.branch7x7_3]
            .iter()
            .fold(x.clone(), |h, layer| layer.forward(h));
        let dbl = [
            &self.branch7x7dbl_1,
            &self.branch7x7dbl_2,
            &self.branch7x7dbl_3,
            &self.branch7x7dbl_4,
            &self.branch7x7dbl_5,
        ]
        .iter()
        .fold(x.clone(), |h, layer| layer.forward(h));
        let pool = self.branch_pool.forward(avg_pool_same(x));
        Tensor::cat(vec![b1, b7, dbl, pool], 1)
    }
}

/// Mixed_7a: the reduction from 17x17 to 8x8.
#[derive(Module, Debug)]
struct InceptionD {
    branch3x3_1: BasicConv2d,
    branch3x3_2: BasicConv2d,
    branch7x7x3_1: BasicConv2d,
    branch7x7x3_2: BasicConv2d,
    branch7x7x3_3: BasicConv2d,
    branch7x7x3_4: BasicConv2d,
}

impl InceptionD {
    fn new(input: usize, device: &Device) -> Self {
        Self {
            branch3x3_1: BasicConv2d::new([input, 192], [1, 1], 1, device),
            branch3x3_2: BasicConv2d::valid([192, 320], 3, 2, device),
            branch7x7x3_1: BasicConv2d::new([input, 192], [1, 1], 1, device),
            branch7x7x3_2: BasicConv2d::new([192, 192], [1, 7], 1, device),
            branch7x7x3_3: BasicConv2d::new([192, 192], [7, 1], 1, device),
            branch7x7x3_4: BasicConv2d::valid([192, 192], 3, 2, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self
            .branch3x3_2
            .forward(self.branch3x3_1.forward(x.clone()));
        let b7 = [
            &self.branch7x7x3_1,
            &self.branch7x7x3_2,
            &self.branch7x7x3_3,
            &self.branch7x7x3_4,
        ]
        .iter()
        .fold(x.clone(), |h, layer| layer.forward(h));
        Tensor::cat(vec![b3, b7, max_pool_reduce(x)], 1)
    }
}

/// How an E block pools its last branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PoolKind {
    /// Mean over the pixels inside the picture (Mixed_7b).
    Average,
    /// Maximum (Mixed_7c, as TensorFlow's FID graph has it).
    Max,
}

/// Mixed_7b, 7c: expanded 3x3 branches (1x3 and 3x1 side by side).
#[derive(Module, Debug)]
struct InceptionE {
    branch1x1: BasicConv2d,
    branch3x3_1: BasicConv2d,
    branch3x3_2a: BasicConv2d,
    branch3x3_2b: BasicConv2d,
    branch3x3dbl_1: BasicConv2d,
    branch3x3dbl_2: BasicConv2d,
    branch3x3dbl_3a: BasicConv2d,
    branch3x3dbl_3b: BasicConv2d,
    branch_pool: BasicConv2d,
    #[module(skip)]
    pool: PoolKind,
}

impl InceptionE {
    fn new(input: usize, pool: PoolKind, device: &Device) -> Self {
        let conv = |channels, kernel| BasicConv2d::new(channels, kernel, 1, device);
        Self {
            branch1x1: conv([input, 320], [1, 1]),
            branch3x3_1: conv([input, 384], [1, 1]),
            branch3x3_2a: conv([384, 384], [1, 3]),
            branch3x3_2b: conv([384, 384], [3, 1]),
            branch3x3dbl_1: conv([input, 448], [1, 1]),
            branch3x3dbl_2: conv([448, 384], [3, 3]),
            branch3x3dbl_3a: conv([384, 384], [1, 3]),
            branch3x3dbl_3b: conv([384, 384], [3, 1]),
            branch_pool: conv([input, 192], [1, 1]),
            pool,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b3 = self.branch3x3_1.forward(x.clone());
        let b3 = Tensor::cat(
            vec![
                self.branch3x3_2a.forward(b3.clone()),
                self.branch3x3_2b.forward(b3),
            ],
            1,
        );
        let dbl = self.branch3x3dbl_1.forward(x.clone());
        let dbl = self.branch3x3dbl_2.forward(dbl);
        let dbl = Tensor::cat(
            vec![
                self.branch3x3dbl_3a.forward(dbl.clone()),
                self.branch3x3dbl_3b.forward(dbl),
            ],
            1,
        );
        let pooled = match self.pool {
            PoolKind::Average => avg_pool_same(x),
            PoolKind::Max => {
                let options = MaxPoolOptions::new([3, 3]).with_padding([1, 1]);
                max_pool2d(x, options.with_stride([1, 1]))
            }
        };
        let pool = self.branch_pool.forward(pooled);
        Tensor::cat(vec![b1, b3, dbl, pool], 1)
    }
}

/// The FID Inception-v3 up to its 2048 `pool3` features.
///
/// # Shapes
/// - input: `[N, C, H, W]` pictures in `[0, 1]`, `C` = 3, or 1 (grey, repeated to three
///   channels), any `H`, `W` (resized to 299x299)
/// - output: `[N, 2048]` features
#[derive(Module, Debug)]
pub struct FidInception {
    conv2d_1a_3x3: BasicConv2d,
    conv2d_2a_3x3: BasicConv2d,
    conv2d_2b_3x3: BasicConv2d,
    conv2d_3b_1x1: BasicConv2d,
    conv2d_4a_3x3: BasicConv2d,
    mixed_5b: InceptionA,
    mixed_5c: InceptionA,
    mixed_5d: InceptionA,
    mixed_6a: InceptionB,
    mixed_6b: InceptionC,
    mixed_6c: InceptionC,
    mixed_6d: InceptionC,
    mixed_6e: InceptionC,
    mixed_7a: InceptionD,
    mixed_7b: InceptionE,
    mixed_7c: InceptionE,
    /// The final layer (`fc`); its bias is loaded but not used.
    fc: Linear,
}

impl FidInception {
    /// The network with placeholder weights, to load a weight file into.
    pub fn new(device: &Device) -> Self {
        Self {
            conv2d_1a_3x3: BasicConv2d::valid([3, 32], 3, 2, device),
            conv2d_2a_3x3: BasicConv2d::valid([32, 32], 3, 1, device),
            conv2d_2b_3x3: BasicConv2d::new([32, 64], [3, 3], 1, device),
            conv2d_3b_1x1: BasicConv2d::new([64, 80], [1, 1], 1, device),
            conv2d_4a_3x3: BasicConv2d::valid([80, 192], 3, 1, device),
            mixed_5b: InceptionA::new(192, 32, device),
            mixed_5c: InceptionA::new(256, 64, device),
            mixed_5d: InceptionA::new(288, 64, device),
            mixed_6a: InceptionB::new(288, device),
            mixed_6b: InceptionC::new(768, 128, device),
            mixed_6c: InceptionC::new(768, 160, device),
            mixed_6d: InceptionC::new(768, 160, device),
            mixed_6e: InceptionC::new(768, 192, device),
            mixed_7a: InceptionD::new(768, device),
            mixed_7b: InceptionE::new(1280, PoolKind::Average, device),
            mixed_7c: InceptionE::new(2048, PoolKind::Max, device),
            fc: LinearConfig::new(INCEPTION_FEATURES, INCEPTION_CLASSES).init(device),
        }
    }

    /// The network with the weights of the PyTorch state dict at `path` (pytorch-fid's
    /// layout: `Conv2d_1a_3x3.conv.weight`, `Mixed_5b.branch1x1.bn.running_mean`, ...).
    /// Every weight of the network, the final layer's included, must be in the file with its
    /// shape.
    pub fn load(path: &Path, device: &Device) -> Result<Self, InceptionLoadError> {
        let error = |reason: String| InceptionLoadError {
            path: path.display().to_string(),
            reason,
        };
        let mut store = PytorchStore::from_file(path)
            .with_key_remapping(r"^Conv2d_", "conv2d_")
            .with_key_remapping(r"^Mixed_", "mixed_")
            .validate(true)
            .allow_partial(false);
        let mut model = Self::new(device);
        let result = model
            .load_from(&mut store)
            .map_err(|e| error(e.to_string()))?;
        if !result.errors.is_empty() {
            let errors: Vec<String> = result.errors.iter().map(|e| format!("{e:?}")).collect();
            return Err(error(errors.join("; ")));
        }
        if !result.missing.is_empty() {
            let missing: Vec<&str> = result.missing.iter().map(|(p, _)| p.as_str()).collect();
            return Err(error(format!("weights missing: {}", missing.join(", "))));
        }
        Ok(model)
    }

    /// `pool3` features of `pictures` in `[0, 1]`.
    pub fn forward(&self, pictures: Tensor<4>) -> Tensor<2> {
        let [batch, channels, ..] = pictures.dims();
        let x = match channels {
            1 => pictures.repeat_dim(1, 3),
            _ => pictures,
        };
        let resize = InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(false)
            .with_output_size([INCEPTION_SIZE, INCEPTION_SIZE]);
        let x = interpolate(x, resize);
        let x = x.mul_scalar(2.0).sub_scalar(1.0);
        let x = self.stem(x);
        let x = [&self.mixed_5b, &self.mixed_5c, &self.mixed_5d]
            .iter()
            .fold(x, |h, block| block.forward(h));
        let x = self.mixed_6a.forward(x);
        let x = [
            &self.mixed_6b,
            &self.mixed_6c,
            &self.mixed_6d,
            &self.mixed_6e,
        ]
        .iter()
        .fold(x, |h, block| block.forward(h));
        let x = self.mixed_7a.forward(x);
        let x = self.mixed_7c.forward(self.mixed_7b.forward(x));
        adaptive_avg_pool2d(x, [1, 1]).reshape([batch, INCEPTION_FEATURES])
    }

    /// Logits of the 1008 classes from `pool3` features `[N, 2048]`: the final layer without
    /// its bias, as the Inception Score's original code computes them.
    ///
    /// # Shapes
    /// - features: `[N, 2048]`
    /// - output: `[N, 1008]`
    pub fn class_logits(&self, features: Tensor<2>) -> Tensor<2> {
        features.matmul(self.fc.weight.val())
    }

    /// 299x299x3 -> 35x35x192.
    fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv2d_1a_3x3.forward(x);
        let x = self.conv2d_2a_3x3.forward(x);
        let x = max_pool_reduce(self.conv2d_2b_3x3.forward(x));
        let x = self.conv2d_3b_1x1.forward(x);
        max_pool_reduce(self.conv2d_4a_3x3.forward(x))
    }
}
