//! Faster 2-D convolutions for burn's flex (CPU) backend.
//!
//! burn-flex computes a convolution one image at a time: one matrix product per image, whose
//! narrow right-hand side (49 columns for a 7x7 feature map) keeps its GEMM far from peak,
//! and the same weights re-packed for every image. [`conv2d`] and [`conv_transpose2d`] take
//! the same arguments as `burn::tensor::module::conv2d` / `conv_transpose2d` and, on flex
//! `f32` tensors (plain or under autodiff), compute each pass over the whole batch as one
//! matrix product over a batch-wide patch matrix (see `plan` for the algebra), registering
//! their own backward step with burn's autodiff. Everything else (other backends and dtypes,
//! groups, dilation) goes to burn's own operation, so the two functions are drop-in
//! replacements everywhere. Results agree with burn's to float rounding (tested).

#[cfg(feature = "flex")]
mod columns;
#[cfg(feature = "flex")]
mod flex;
#[cfg(feature = "flex")]
mod matmul;
#[cfg(feature = "flex")]
mod plan;
#[cfg(feature = "flex")]
mod taps;
#[cfg(feature = "flex")]
mod transpose;

use burn::prelude::*;
use burn::tensor::module;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

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
        && let Some(out) = flex::run(&plan, &x, &weight, bias.as_ref())
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
        && let Some(out) = flex::run(&plan, &x, &weight, bias.as_ref())
    {
        return out;
    }
    module::conv_transpose2d(x, weight, bias, options)
}
