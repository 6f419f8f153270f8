//! The shapes of one 2-D convolution or transposed convolution, and its forward and backward
//! passes over host buffers as batch-wide patch matrices and matrix products.
//!
//! Images are turned channels-last (`[B*L, C]` matrices, one row per pixel) and weights
//! taps-major. With `P = patches(x)` (`[B*L, kh*kw*C_in]`, one row per window position of
//! every image) and the weight as `W` (`[C_out, kh*kw*C_in]`), a
//! convolution is `Y = P W^T`, its input gradient `scatter(dY W)` and its weight gradient
//! `dY^T P`. A transposed convolution is the input gradient of the convolution it
//! transposes: `y = scatter(X W)`, with gradients `dX = patches(dy) W^T` and
//! `dW = X^T patches(dy)`. Each is one matrix product over the whole batch, in the operand
//! layouts `gemm` runs fastest (measured; BENCHMARKS.md).

use crate::columns::{Windows, patches, scatter_patches, transpose_inner};
use crate::matmul::{MatRef, matmul};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// A convolution or transposed convolution these kernels handle: 2-D, one group, no
/// dilation, weights `[C_out, C_in, kh, kw]` (convolution) or `[C_in, C_out, kh, kw]`
/// (transposed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Convolution or transposed convolution.
    pub transposed: bool,
    /// Batch size.
    pub batch: usize,
    /// Channels of the input `x`.
    pub in_channels: usize,
    /// Channels of the output.
    pub out_channels: usize,
    /// Height and width of the input.
    pub in_size: [usize; 2],
    /// Height and width of the output.
    pub out_size: [usize; 2],
    /// The windows of the convolution: over `x` for a convolution, over the output for a
    /// transposed convolution.
    pub windows: Windows,
}

/// The gradients one backward pass computed (those asked for).
#[derive(Debug, Default)]
pub struct Grads {
    /// Of the input, `[B, C_in, H, W]`.
    pub x: Option<Vec<f32>>,
    /// Of the weight, in the weight's layout.
    pub weight: Option<Vec<f32>>,
    /// Of the bias, `[C_out]`.
    pub bias: Option<Vec<f32>>,
}

impl Plan {
    /// The plan of `conv2d(x, weight, options)`, or `None` when the kernels do not cover it
    /// (groups, dilation, or shapes that do not fit together).
    pub fn conv(x: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Option<Self> {
        let [batch, in_channels, h, w] = x;
        let [out_channels, weight_in, kh, kw] = weight;
        if options.groups != 1 || options.dilation != [1, 1] || weight_in != in_channels {
            return None;
        }
        let out = |axis: usize, size: usize, k: usize| {
            let (begin, end) = options.padding[axis];
            let padded = size + begin + end;
            (k > 0 && padded >= k).then(|| (padded - k) / options.stride[axis] + 1)
        };
        let out_size = [out(0, h, kh)?, out(1, w, kw)?];
        Some(Self {
            transposed: false,
            batch,
            in_channels,
            out_channels,
            in_size: [h, w],
            out_size,
            windows: Windows {
                channels: in_channels,
                image: [h, w],
                kernel: [kh, kw],
                stride: options.stride,
                padding: [options.padding[0].0, options.padding[1].0],
                out: out_size,
            },
        })
    }

    /// The plan of `conv_transpose2d(x, weight, options)`, or `None` when the kernels do not
    /// cover it.
    pub fn conv_transpose(
        x: [usize; 4],
        weight: [usize; 4],
        options: &ConvTransposeOptions<2>,
    ) -> Option<Self> {
        let [batch, in_channels, h, w] = x;
        let [weight_in, out_channels, kh, kw] = weight;
        if options.groups != 1 || options.dilation != [1, 1] || weight_in != in_channels {
            return None;
        }
        let out = |axis: usize, size: usize, k: usize| {
            let stride = options.stride[axis];
            let grown = size.checked_sub(1)? * stride + k + options.padding_out[axis];
            // Output padding beyond the stride would add positions no window reaches.
            (options.padding_out[axis] < stride.max(1))
                .then(|| grown.checked_sub(2 * options.padding[axis]))
                .flatten()
        };
        let out_size = [out(0, h, kh)?, out(1, w, kw)?];
        Some(Self {
            transposed: true,
            batch,
            in_channels,
            out_channels,
            in_size: [h, w],
            out_size,
            windows: Windows {
                channels: out_channels,
                image: out_size,
                kernel: [kh, kw],
                stride: options.stride,
                padding: options.padding,
                out: [h, w],
            },
        })
    }

    /// Output shape `[B, C_out, oh, ow]`.
    pub fn out_shape(&self) -> [usize; 4] {
        let [oh, ow] = self.out_size;
        [self.batch, self.out_channels, oh, ow]
    }

    fn in_positions(&self) -> usize {
        self.in_size[0] * self.in_size[1]
    }

    fn out_positions(&self) -> usize {
        self.out_size[0] * self.out_size[1]
    }

    /// The forward pass: `x` `[B, C_in, H, W]`, `weight` in its layout, optional bias
    /// `[C_out]`; returns the output `[B, C_out, oh, ow]`.
    pub fn forward(&self, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let (batch, c_in, c_out) = (self.batch, self.in_channels, self.out_channels);
        let (in_len, out_len) = (self.in_positions(), self.out_positions());
        let len = self.windows.patch_len();
        let taps = self.windows.kernel[0] * self.windows.kernel[1];
        let x = transpose_inner(x, batch, c_in, in_len); // [B*HW, C_in]
        let y = if self.transposed {
            let w = transpose_inner(weight, c_in, c_out, taps); // [C_in, taps*C_out]
            let p = matmul(
                MatRef::row_major(&x, batch * in_len, c_in),
                MatRef::row_major(&w, c_in, len),
            );
            scatter_patches(&p, batch, &self.windows)
        } else {
            let w = transpose_inner(weight, c_out, c_in, taps); // [C_out, taps*C_in]
            let p = patches(&x, batch, &self.windows);
            matmul(
                MatRef::row_major(&p, batch * out_len, len),
                MatRef::transposed(&w, len, c_out),
            )
        }; // [B*L, C_out]
        let mut out = transpose_inner(&y, batch, out_len, c_out);
        if let Some(bias) = bias {
            for (i, plane) in out.chunks_mut(out_len.max(1)).enumerate() {
                let b = bias[i % c_out];
                plane.iter_mut().for_each(|v| *v += b);
            }
        }
        out
    }

    /// The backward pass for the output gradient `dy` `[B, C_out, oh, ow]`, computing the
    /// gradients flagged in `want` (input, weight, bias).
    pub fn backward(&self, x: &[f32], weight: &[f32], dy: &[f32], want: [bool; 3]) -> Grads {
        let (batch, c_in, c_out) = (self.batch, self.in_channels, self.out_channels);
        let (in_len, out_len) = (self.in_positions(), self.out_positions());
        let len = self.windows.patch_len();
        let taps = self.windows.kernel[0] * self.windows.kernel[1];
        let mut grads = Grads::default();
        if want[2] {
            grads.bias = Some(channel_sums(dy, c_out, out_len));
        }
        let dy = transpose_inner(dy, batch, c_out, out_len); // [B*L, C_out]
        let x = || transpose_inner(x, batch, c_in, in_len); // [B*HW, C_in]
        if self.transposed {
            let dp = patches(&dy, batch, &self.windows); // [B*HW, taps*C_out]
            if want[0] {
                let w = transpose_inner(weight, c_in, c_out, taps);
                let dx = matmul(
                    MatRef::row_major(&dp, batch * in_len, len),
                    MatRef::transposed(&w, len, c_in),
                );
                grads.x = Some(transpose_inner(&dx, batch, in_len, c_in));
            }
            if want[1] {
                let dw = matmul(
                    MatRef::transposed(&x(), c_in, batch * in_len),
                    MatRef::row_major(&dp, batch * in_len, len),
                );
                grads.weight = Some(transpose_inner(&dw, c_in, taps, c_out));
            }
        } else {
            if want[0] {
                let w = transpose_inner(weight, c_out, c_in, taps);
                let dp = matmul(
                    MatRef::row_major(&dy, batch * out_len, c_out),
                    MatRef::row_major(&w, c_out, len),
                );
                let dx = scatter_patches(&dp, batch, &self.windows); // [B*HW, C_in]
                grads.x = Some(transpose_inner(&dx, batch, in_len, c_in));
            }
            if want[1] {
                let p = patches(&x(), batch, &self.windows);
                let dw = matmul(
                    MatRef::transposed(&dy, c_out, batch * out_len),
                    MatRef::row_major(&p, batch * out_len, len),
                );
                grads.weight = Some(transpose_inner(&dw, c_out, taps, c_in));
            }
        }
        grads
    }
}

/// Per-channel sums of `[B, C, positions]`.
fn channel_sums(data: &[f32], channels: usize, positions: usize) -> Vec<f32> {
    let mut sums = vec![0.0f32; channels];
    for (i, plane) in data.chunks(positions.max(1)).enumerate() {
        sums[i % channels] += plane.iter().sum::<f32>();
    }
    sums
}
