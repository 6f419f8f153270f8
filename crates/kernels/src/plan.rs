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

use crate::columns::{Windows, patches, scatter_patches};
use crate::elementwise::Channels;
use crate::matmul::{MatRef, matmul};
use crate::rows::conv_by_image;
use crate::taps::{TapConv, weights_by_output, weights_by_tap};
use crate::transpose::transpose_inner;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use rayon::prelude::*;

/// How a [`Plan`] computes its passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// One product over a batch-wide patch matrix per pass (`columns`): best when one side
    /// has very few channels (an RGB or grey image), where per-tap products would be thin.
    Patches,
    /// One product per kernel tap over pixel-major images (`taps`): no patch matrix and no
    /// products over the zero padding.
    Taps,
}

impl Method {
    /// Fewest channels on both sides for which [`Method::Taps`] is chosen: below it the
    /// per-tap products are too thin to run near the machine's peak.
    pub const TAPS_MIN_CHANNELS: usize = 16;

    /// Fewest matrix rows per tap and row of window positions (batch times positions per
    /// row) for which [`Method::Taps`] is chosen: with fewer (small batches, 4x4 maps) the
    /// per-tap products are too short, and one product over a patch matrix was measured up
    /// to 2.4x faster (BENCHMARKS.md).
    pub const TAPS_MIN_ROWS: usize = 96;

    /// The method for channel counts `a` and `b`, `batch` images and window positions
    /// `positions_per_row` wide.
    fn choose(a: usize, b: usize, batch: usize, positions_per_row: usize) -> Self {
        if a.min(b) >= Self::TAPS_MIN_CHANNELS && batch * positions_per_row >= Self::TAPS_MIN_ROWS {
            Method::Taps
        } else {
            Method::Patches
        }
    }
}

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
    /// How the passes are computed (chosen from the channel counts).
    pub method: Method,
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
            Windows::count_along(size, options.padding[axis], k, options.stride[axis])
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
            method: Method::choose(in_channels, out_channels, batch, out_size[1]),
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
            method: Method::choose(in_channels, out_channels, batch, w),
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
        let out = match self.method {
            Method::Patches => self.forward_patches(x, weight),
            Method::Taps => self.forward_taps(x, weight),
        };
        self.with_bias(out, bias)
    }

    /// Fewest window positions per image for which [`Plan::forward_inference`] computes a
    /// convolution image by image: from there one product per image is wide enough to run
    /// near the machine's peak, and the batch-wide methods' changes of layout cost more
    /// than they save (measured on the FID Inception's layers; BENCHMARKS.md).
    pub const BY_IMAGE_MIN_POSITIONS: usize = 4096;

    /// Whether [`Plan::forward_inference`] computes this plan image by image over its
    /// channel-major patch rows (`rows`): a convolution (not transposed) that is pointwise,
    /// whose [`Method`] is [`Method::Patches`] (few channels, or few rows per tap), or whose
    /// output has at least [`Plan::BY_IMAGE_MIN_POSITIONS`] positions per image.
    pub fn by_image(&self) -> bool {
        let w = &self.windows;
        !self.transposed
            && (w.is_pointwise()
                || self.method == Method::Patches
                || w.positions() >= Self::BY_IMAGE_MIN_POSITIONS)
    }

    /// [`Plan::forward`] when no backward pass will follow (no layout to keep for it): image
    /// by image where [`Plan::by_image`] says so, otherwise as [`Plan::forward`].
    pub fn forward_inference(&self, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        if !self.by_image() {
            return self.forward(x, weight, bias);
        }
        let out = conv_by_image(x, weight, self.batch, &self.windows);
        self.with_bias(out, bias)
    }

    /// `out` (`[B, C_out, oh, ow]`) plus `bias` (`[C_out]`) on every plane.
    fn with_bias(&self, mut out: Vec<f32>, bias: Option<&[f32]>) -> Vec<f32> {
        if let Some(bias) = bias {
            out.par_chunks_mut(self.out_positions().max(1))
                .enumerate()
                .for_each(|(i, plane)| {
                    let b = bias[i % self.out_channels];
                    plane.iter_mut().for_each(|v| *v += b);
                });
        }
        out
    }

    /// The pixel-major view of this plan.
    fn tap_conv(&self) -> TapConv {
        let channels_out = if self.transposed {
            self.in_channels
        } else {
            self.out_channels
        };
        TapConv {
            windows: self.windows,
            batch: self.batch,
            channels_out,
        }
    }

    /// The weight (in its layout) by tap, as [`TapConv`]'s passes take it.
    fn weights_by_tap(&self, weight: &[f32]) -> Vec<f32> {
        let taps = self.windows.kernel[0] * self.windows.kernel[1];
        let c_o = self.tap_conv().channels_out;
        weights_by_tap(weight, c_o, self.windows.channels, taps)
    }

    fn forward_taps(&self, x: &[f32], weight: &[f32]) -> Vec<f32> {
        let (conv, w) = (self.tap_conv(), self.weights_by_tap(weight));
        if self.transposed {
            let y = conv.correlate_adjoint(&conv.positions().arrange(x), &w);
            conv.image().to_nchw(&y)
        } else {
            let y = conv.correlate(&conv.image().arrange(x), &w);
            conv.positions().to_nchw(&y)
        }
    }

    fn forward_patches(&self, x: &[f32], weight: &[f32]) -> Vec<f32> {
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
        transpose_inner(&y, batch, out_len, c_out)
    }

    /// The backward pass for the output gradient `dy` `[B, C_out, oh, ow]`, computing the
    /// gradients flagged in `want` (input, weight, bias).
    pub fn backward(&self, x: &[f32], weight: &[f32], dy: &[f32], want: [bool; 3]) -> Grads {
        let mut grads = match self.method {
            _ if !want[0] && !want[1] => Grads::default(),
            Method::Patches => self.backward_patches(x, weight, dy, want),
            Method::Taps => self.backward_taps(x, weight, dy, want),
        };
        if want[2] {
            grads.bias = Some(channel_sums(dy, self.out_channels, self.out_positions()));
        }
        grads
    }

    fn backward_taps(&self, x: &[f32], weight: &[f32], dy: &[f32], want: [bool; 3]) -> Grads {
        let conv = self.tap_conv();
        let (c_o, c_img) = (conv.channels_out, self.windows.channels);
        let taps = self.windows.kernel[0] * self.windows.kernel[1];
        let (image, positions) = (conv.image(), conv.positions());
        let mut grads = Grads::default();
        // In the convolution's terms: the image side and the position side of x and dy.
        let (x_side, dy_side) = if self.transposed {
            (positions, image)
        } else {
            (image, positions)
        };
        let dy = dy_side.arrange(dy);
        if want[0] {
            let w = self.weights_by_tap(weight);
            let dx = if self.transposed {
                conv.correlate(&dy, &w)
            } else {
                conv.correlate_adjoint(&dy, &w)
            };
            grads.x = Some(x_side.to_nchw(&dx));
        }
        if want[1] {
            let x = x_side.arrange(x);
            let by_tap = if self.transposed {
                conv.weight_gradient(&dy, &x)
            } else {
                conv.weight_gradient(&x, &dy)
            };
            grads.weight = Some(weights_by_output(&by_tap, c_o, c_img, taps));
        }
        grads
    }

    fn backward_patches(&self, x: &[f32], weight: &[f32], dy: &[f32], want: [bool; 3]) -> Grads {
        let (batch, c_in, c_out) = (self.batch, self.in_channels, self.out_channels);
        let (in_len, out_len) = (self.in_positions(), self.out_positions());
        let len = self.windows.patch_len();
        let taps = self.windows.kernel[0] * self.windows.kernel[1];
        let mut grads = Grads::default();
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
    let shape = Channels {
        batch: data.len() / (channels * positions).max(1),
        channels,
        spatial: positions,
    };
    let sums = shape.sums([data], [], |[v], []| [v]);
    sums.iter().map(|[s]| *s as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::ramp;

    fn close(got: &[f32], want: &[f32], what: &str, plan: &Plan) {
        assert_eq!(got.len(), want.len(), "{what} length, {plan:?}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                "{what}[{i}]: {g} vs {w}, {plan:?}"
            );
        }
    }

    /// Both methods on one plan: same output and gradients.
    fn methods_agree(plan: Plan) {
        let [kh, kw] = plan.windows.kernel;
        let x = ramp(plan.batch * plan.in_channels * plan.in_positions(), 1, 0.02);
        let w = ramp(plan.in_channels * plan.out_channels * kh * kw, 2, 0.01);
        let dy = ramp(
            plan.batch * plan.out_channels * plan.out_positions(),
            3,
            0.03,
        );
        let taps = Plan {
            method: Method::Taps,
            ..plan
        };
        let patches = Plan {
            method: Method::Patches,
            ..plan
        };
        close(
            &taps.forward(&x, &w, None),
            &patches.forward(&x, &w, None),
            "output",
            &plan,
        );
        let (a, b) = (
            taps.backward(&x, &w, &dy, [true, true, false]),
            patches.backward(&x, &w, &dy, [true, true, false]),
        );
        close(
            &a.x.unwrap_or_default(),
            &b.x.unwrap_or_default(),
            "dx",
            &plan,
        );
        close(
            &a.weight.clone().unwrap_or_default(),
            &b.weight.unwrap_or_default(),
            "dw",
            &plan,
        );
        // The weight gradient alone (the discriminator step's case) is the same.
        let alone = taps.backward(&x, &w, &dy, [false, true, false]);
        assert!(alone.x.is_none(), "dx computed unasked, {plan:?}");
        close(
            &alone.weight.unwrap_or_default(),
            &a.weight.unwrap_or_default(),
            "dw alone",
            &plan,
        );
    }

    #[test]
    fn taps_and_patches_agree_on_convolutions() {
        // (input, weight, stride, padding): the reference layers' kinds and odd ones.
        let cases = [
            ([3, 4, 14, 14], [6, 4, 5, 5], [2, 2], [2, 2]),
            ([2, 3, 7, 7], [5, 3, 5, 5], [1, 1], [2, 2]),
            ([2, 3, 9, 7], [4, 3, 3, 2], [2, 1], [1, 0]),
            ([2, 2, 8, 8], [3, 2, 2, 2], [3, 3], [0, 0]),
            ([2, 3, 4, 4], [2, 3, 4, 4], [1, 1], [0, 0]),
            ([1, 2, 5, 9], [3, 2, 1, 3], [1, 3], [0, 1]),
            ([2, 2, 6, 6], [2, 2, 3, 3], [2, 2], [1, 1]),
        ];
        for (x, w, stride, padding) in cases {
            let options = ConvOptions::new(stride, padding, [1, 1], 1);
            methods_agree(Plan::conv(x, w, &options).unwrap_or_else(|| panic!("{x:?} {w:?}")));
        }
    }

    #[test]
    fn taps_and_patches_agree_on_transposed_convolutions() {
        // (input, weight, stride, padding, output padding).
        let cases = [
            ([3, 4, 7, 7], [4, 3, 5, 5], [1, 1], [2, 2], [0, 0]),
            ([2, 4, 7, 7], [4, 2, 5, 5], [2, 2], [2, 2], [1, 1]),
            ([2, 5, 1, 1], [5, 3, 4, 4], [1, 1], [0, 0], [0, 0]),
            ([2, 3, 4, 4], [3, 2, 4, 4], [2, 2], [1, 1], [0, 0]),
            ([2, 3, 5, 4], [3, 2, 3, 2], [2, 3], [1, 0], [1, 2]),
            ([1, 2, 3, 3], [2, 2, 2, 2], [3, 3], [0, 0], [0, 0]),
        ];
        for (x, w, stride, padding, out_padding) in cases {
            let options = ConvTransposeOptions::new(stride, padding, out_padding, [1, 1], 1);
            methods_agree(
                Plan::conv_transpose(x, w, &options).unwrap_or_else(|| panic!("{x:?} {w:?}")),
            );
        }
    }

    #[test]
    fn inference_goes_image_by_image_for_pointwise_thin_or_large_convolutions() {
        // (input, weight, stride, padding, image by image): pointwise; the per-tap method on
        // a 35x35 map; the same on 64x64 positions; few channels (the patch-matrix method).
        let cases = [
            ([25, 192, 35, 35], [64, 192, 1, 1], [1, 1], [0, 0], true),
            ([25, 48, 35, 35], [64, 48, 5, 5], [1, 1], [2, 2], false),
            ([2, 16, 64, 64], [16, 16, 3, 3], [1, 1], [1, 1], true),
            ([64, 1, 28, 28], [32, 1, 3, 3], [1, 1], [1, 1], true),
        ];
        for (x, w, stride, padding, expected) in cases {
            let options = ConvOptions::new(stride, padding, [1, 1], 1);
            let plan = Plan::conv(x, w, &options).map(|p| p.by_image());
            assert_eq!(plan, Some(expected), "{x:?} {w:?}");
        }
        let up = ConvTransposeOptions::new([1, 1], [0, 0], [0, 0], [1, 1], 1);
        let transposed = Plan::conv_transpose([2, 4, 5, 5], [4, 3, 1, 1], &up);
        assert_eq!(transposed.map(|p| p.by_image()), Some(false));
    }

    #[test]
    fn the_method_follows_the_channel_counts_and_the_rows_per_tap() {
        let options = ConvOptions::new([2, 2], [2, 2], [1, 1], 1);
        let method = |x, w| Plan::conv(x, w, &options).map(|p| p.method);
        assert_eq!(
            method([64, 64, 14, 14], [128, 64, 5, 5]),
            Some(Method::Taps)
        );
        assert_eq!(
            method([64, 1, 28, 28], [64, 1, 5, 5]),
            Some(Method::Patches)
        );
        // One image: 7 rows per tap and row of positions.
        assert_eq!(
            method([1, 64, 14, 14], [128, 64, 5, 5]),
            Some(Method::Patches)
        );
        let up = ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1);
        let method = |x, w| Plan::conv_transpose(x, w, &up).map(|p| p.method);
        assert_eq!(
            method([128, 512, 4, 4], [512, 256, 4, 4]),
            Some(Method::Taps)
        );
        assert_eq!(
            method([16, 512, 4, 4], [512, 256, 4, 4]),
            Some(Method::Patches)
        );
    }
}
