//! Faster kernels for burn's flex (CPU) backend: 2-D convolutions, training-mode batch
//! normalisation fused with its activation, LeakyReLU, tanh, and average and maximum pooling.
//!
//! burn-flex computes a convolution one image at a time: one matrix product per image, whose
//! narrow right-hand side (49 columns for a 7x7 feature map) keeps its GEMM far from peak,
//! and the same weights re-packed for every image. [`conv2d`] and [`conv_transpose2d`] take
//! the same arguments as `burn::tensor::module::conv2d` / `conv_transpose2d` and, on flex
//! `f32` tensors (plain or under autodiff), compute each pass over the whole batch, as
//! products per kernel tap or over a batch-wide patch matrix (see `plan` for the algebra),
//! registering their own backward step with burn's autodiff. Everything else (other backends
//! and dtypes, groups, dilation) goes to burn's own operation, so the two functions are
//! drop-in replacements everywhere. Outside autodiff (inference), a convolution that is
//! pointwise, has few channels or a large output map is computed image by image instead,
//! one product per image over its channel-major patch rows (`rows`), which needs no change
//! of layout on either side.
//!
//! burn-flex's pooling visits each window element by element on one thread. [`avg_pool2d`]
//! and [`max_pool2d`] (same arguments as burn's) reduce each plane's window rows with
//! vectorised passes, in parallel over planes, on plain flex tensors; under autodiff and on
//! other backends they are burn's own operations.
//!
//! burn-flex also runs each element-wise operation as its own single-threaded pass, and burn
//! builds LeakyReLU and BatchNorm from several of them. [`batch_norm`] (fused with the
//! LeakyReLU or ReLU after it), [`leaky_relu`] and [`tanh`] are one parallel, vectorised pass
//! each way; they return `None` where they do not apply, so that callers keep their own
//! formulation for other backends. Results agree with burn's to float rounding (tested).

#[cfg(feature = "flex")]
mod activation;
mod adam;
#[cfg(feature = "flex")]
mod columns;
#[cfg(feature = "flex")]
mod elementwise;
#[cfg(feature = "flex")]
mod flex;
#[cfg(feature = "flex")]
mod matmul;
#[cfg(feature = "flex")]
mod norm;
#[cfg(feature = "flex")]
mod plan;
#[cfg(feature = "flex")]
mod pool;
mod rmsprop;
#[cfg(feature = "flex")]
mod rows;
#[cfg(feature = "flex")]
mod taps;
#[cfg(feature = "flex")]
mod transpose;
#[cfg(feature = "flex")]
mod uninit;

/// Test data shared by the unit tests.
#[cfg(all(test, feature = "flex"))]
mod test_data {
    /// `n` values in `[-50, 50] * scale` from a fixed sequence (shifted by `seed`): no shared
    /// random generator, so tests running in parallel stay deterministic.
    pub fn ramp(n: usize, seed: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i + seed) * 37 % 101) as f32 - 50.0) * scale)
            .collect()
    }
}

pub use adam::FusedAdam;
pub use rmsprop::FusedRmsProp;

use burn::prelude::*;
use burn::tensor::module;
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, ConvTransposeOptions, MaxPoolOptions};

/// `burn::tensor::module::conv2d(x, weight, bias, options)`: `x` `[B, C_in, H, W]`,
/// `weight` `[C_out, C_in / groups, kh, kw]`, `bias` `[C_out]`.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if let Some(plan) = plan::Plan::conv(x.dims(), weight.dims(), &options)
        && let Some(out) = flex::convolution(&plan, &x, &weight, bias.as_ref())
    {
        return out;
    }
    module::conv2d(x, weight, bias, options)
}

/// `burn::tensor::module::conv_transpose2d(x, weight, bias, options)`: `x`
/// `[B, C_in, H, W]`, `weight` `[C_in, C_out / groups, kh, kw]`, `bias` `[C_out]`.
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvTransposeOptions<2>,
) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if let Some(plan) = plan::Plan::conv_transpose(x.dims(), weight.dims(), &options)
        && let Some(out) = flex::convolution(&plan, &x, &weight, bias.as_ref())
    {
        return out;
    }
    module::conv_transpose2d(x, weight, bias, options)
}

/// `burn::tensor::module::avg_pool2d(x, options)`: `x` `[B, C, H, W]`. On plain flex
/// tensors in floor mode, one pass per plane (`pool`); everything else (autodiff, other
/// backends, ceiling mode) goes to burn's own operation.
pub fn avg_pool2d(x: Tensor<4>, options: AvgPoolOptions<2>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if !options.ceil_mode {
        let reduce = pool::Reduce::Mean {
            count_include_pad: options.count_include_pad,
        };
        let (kernel, stride) = (options.kernel_size, options.stride);
        if let Some(y) = flex::pool2d(&x, kernel, stride, options.padding, reduce) {
            return y;
        }
    }
    module::avg_pool2d(x, options)
}

/// `burn::tensor::module::max_pool2d(x, options)`: `x` `[B, C, H, W]`. On plain flex
/// tensors in floor mode without dilation, one pass per plane (`pool`); everything else
/// goes to burn's own operation.
pub fn max_pool2d(x: Tensor<4>, options: MaxPoolOptions<2>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if !options.ceil_mode && options.dilation == [1, 1] {
        let (kernel, stride) = (options.kernel_size, options.stride);
        if let Some(y) = flex::pool2d(&x, kernel, stride, options.padding, pool::Reduce::Max) {
            return y;
        }
    }
    module::max_pool2d(x, options)
}

/// The output of [`batch_norm`] and the batch statistics it normalised with.
#[derive(Debug, Clone)]
pub struct BatchNormOutput<const D: usize> {
    /// `act(gamma * (x - mean) / sqrt(variance + epsilon) + beta)`.
    pub output: Tensor<D>,
    /// Per-channel batch mean, `[C]`, without autodiff history.
    pub mean: Tensor<1>,
    /// Per-channel biased batch variance, `[C]`, without autodiff history.
    pub variance: Tensor<1>,
}

/// Training-mode batch normalisation of `x` `[B, C, ...]` with its own batch statistics
/// (biased variance), scale `gamma` and shift `beta` (`[C]`), followed by LeakyReLU with
/// `negative_slope` (0: ReLU; `None`: no activation), in one pass forward and one backward.
///
/// `None` where these kernels do not apply (tensors that are not `f32` on flex, plain or
/// under autodiff; mismatched shapes; a negative slope): compute it another way then. The
/// running statistics are the caller's to update from the returned batch statistics.
pub fn batch_norm<const D: usize>(
    x: &Tensor<D>,
    gamma: &Tensor<1>,
    beta: &Tensor<1>,
    epsilon: f64,
    negative_slope: Option<f64>,
) -> Option<BatchNormOutput<D>> {
    #[cfg(feature = "flex")]
    return flex::batch_norm(x, gamma, beta, epsilon, negative_slope);
    #[cfg(not(feature = "flex"))]
    {
        let _ = (x, gamma, beta, epsilon, negative_slope);
        None
    }
}

/// Evaluation-mode batch normalisation of `x` `[B, C, ...]` with given statistics (a layer's
/// running `mean` and `variance`), scale `gamma` and shift `beta` (all `[C]`), followed by
/// LeakyReLU with `negative_slope` (0: ReLU; `None`: no activation), in one pass. For
/// inference: `None` for tensors under autodiff, and where [`batch_norm`] gives `None`.
pub fn batch_norm_with_statistics<const D: usize>(
    x: &Tensor<D>,
    [gamma, beta, mean, variance]: [&Tensor<1>; 4],
    epsilon: f64,
    negative_slope: Option<f64>,
) -> Option<Tensor<D>> {
    #[cfg(feature = "flex")]
    return flex::batch_norm_with_statistics(
        x,
        [gamma, beta, mean, variance],
        epsilon,
        negative_slope,
    );
    #[cfg(not(feature = "flex"))]
    {
        let _ = (x, gamma, beta, mean, variance, epsilon, negative_slope);
        None
    }
}

/// `max(x, s x)` for a slope `s >= 0`, whose backward step reads only the output; `None` where
/// these kernels do not apply (see [`batch_norm`]).
pub fn leaky_relu<const D: usize>(x: &Tensor<D>, negative_slope: f64) -> Option<Tensor<D>> {
    #[cfg(feature = "flex")]
    return flex::leaky_relu(x, negative_slope);
    #[cfg(not(feature = "flex"))]
    {
        let _ = (x, negative_slope);
        None
    }
}

/// `tanh(x)` (within 2e-7 of the exact value), whose backward step reads only the output;
/// `None` where these kernels do not apply (see [`batch_norm`]).
pub fn tanh<const D: usize>(x: &Tensor<D>) -> Option<Tensor<D>> {
    #[cfg(feature = "flex")]
    return flex::tanh(x);
    #[cfg(not(feature = "flex"))]
    {
        let _ = x;
        None
    }
}
