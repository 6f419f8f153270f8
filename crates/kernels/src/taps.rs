//! Convolutions as sums of one matrix product per kernel tap, over pixel-major images: no
//! patch matrix, and no product over the zero padding.
//!
//! Images are stored pixel-major with the batch inside each pixel (`[H, W, B, C]`), so that
//! the pixels `x0..x1` of one image row, for the whole batch, are one contiguous block of
//! `(x1 - x0) * B` matrix rows of `C` columns. For a kernel tap `(ky, kx)` and one row `oy`
//! of window positions, the positions whose tap lands inside the image form one range of
//! `ox`, and the pixels they read one such block. A convolution is then, for every row of
//! positions, a sum over taps of `[n*B x C_img] x [C_img x C_o]` products, all reading and
//! writing the buffers in place.
//!
//! With a horizontal stride `s`, the pixels read by consecutive positions are `s` apart;
//! the image side is then split by column phase (`[s, H, ceil(W / s), B, C]`, phase
//! `r` holding the columns `x = j * s + r`), so they are adjacent again.
//!
//! Three passes, in the vocabulary of a convolution (the image side `x`, the window
//! positions `y`, weights `w_t` `[C_img x C_o]` per tap):
//! [`correlate`] `y = sum_t x_t w_t`, [`correlate_adjoint`] `x = sum_t y_t w_t^T` and
//! [`weight_gradient`] `w_t = x_t^T y`. A transposed convolution uses the same three with
//! the roles of input and output swapped (see `plan`).

use crate::columns::Windows;
use crate::matmul::{MatMut, MatRef, matmul_into, matmul_into_par};
use crate::transpose::{RowsMut, Strided, transpose_inner, transpose_rows};
use crate::uninit::{assume_init, uninit};
use rayon::prelude::*;

/// Target number of matrix rows (pixels times batch) of one parallel task.
const ROWS_PER_TASK: usize = 256;

/// The pixel-major layout of one side of a convolution: `[phases, h, cols, batch, channels]`
/// with `cols = ceil(w / phases)`; phase `r` holds the image columns `j * phases + r`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelMajor {
    /// Column phases (the horizontal stride on the image side, 1 elsewhere).
    pub phases: usize,
    /// Image height.
    pub h: usize,
    /// Image width.
    pub w: usize,
    /// Batch size.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
}

impl PixelMajor {
    /// Columns per phase: `ceil(w / phases)`.
    fn cols(&self) -> usize {
        self.w.div_ceil(self.phases)
    }

    /// Columns that phase `r` actually holds (the last ones may be absent).
    fn cols_of(&self, r: usize) -> usize {
        if r < self.w {
            (self.w - r).div_ceil(self.phases)
        } else {
            0
        }
    }

    /// Elements of one pixel (all images): `batch * channels`.
    fn pixel(&self) -> usize {
        self.batch * self.channels
    }

    /// Elements of one row of one phase.
    fn row(&self) -> usize {
        self.cols() * self.pixel()
    }

    /// Total elements.
    pub fn len(&self) -> usize {
        self.phases * self.h * self.row()
    }

    /// Offset of pixel column `j` of phase `r`, row `y`.
    fn at(&self, r: usize, y: usize, j: usize) -> usize {
        ((r * self.h + y) * self.cols() + j) * self.pixel()
    }

    /// `[B, C, H, W]` to this layout, in one pass: one task per image row, each transposing
    /// that row of every image (`C x W`) into its pixels. Slots of absent columns are zero.
    pub fn arrange(&self, nchw: &[f32]) -> Vec<f32> {
        let (b, c, hw) = (self.batch, self.channels, self.h * self.w);
        assert_eq!(nchw.len(), b * c * hw, "pixel-major: image buffer size");
        let mut out = vec![0.0f32; self.len()];
        if out.is_empty() {
            return out;
        }
        // The lines of image row `y` in every phase, so that one task owns them all.
        let mut by_row: Vec<Vec<&mut [f32]>> = (0..self.h)
            .map(|_| Vec::with_capacity(self.phases))
            .collect();
        for (line, data) in out.chunks_mut(self.row()).enumerate() {
            by_row[line % self.h].push(data);
        }
        by_row.into_par_iter().enumerate().for_each(|(y, lines)| {
            let mut dst = PhaseRows {
                lines,
                phases: self.phases,
                pixel: self.pixel(),
                offset: 0,
            };
            for image in 0..b {
                dst.offset = image * c;
                let row = |ch: usize| (image * c + ch) * hw + y * self.w;
                transpose_rows(nchw, c, self.w, row, &mut dst);
            }
        });
        out
    }

    /// This layout back to `[B, C, H, W]`, in one pass: one task per image, transposing its
    /// pixels (`H*W x C`) into channel planes.
    pub fn to_nchw(self, data: &[f32]) -> Vec<f32> {
        assert_eq!(data.len(), self.len(), "pixel-major: buffer size");
        let (b, c, hw) = (self.batch, self.channels, self.h * self.w);
        let mut nchw = uninit(b * c * hw);
        if nchw.is_empty() {
            return Vec::new();
        }
        nchw.par_chunks_mut(c * hw)
            .enumerate()
            .for_each(|(image, out)| {
                let pixel = |p: usize| {
                    let (y, x) = (p / self.w, p % self.w);
                    self.at(x % self.phases, y, x / self.phases) + image * c
                };
                let mut dst = Strided {
                    data: out,
                    stride: hw,
                    offset: 0,
                };
                transpose_rows(data, hw, c, pixel, &mut dst);
            });
        // SAFETY: each image's `c` rows of `hw` elements are all written by its transpose.
        #[allow(unsafe_code)]
        unsafe {
            assume_init(nchw)
        }
    }
}

/// The pixels of one image row in a [`PixelMajor`] layout as destination rows: pixel `x` is
/// in the line of phase `x % phases`, at column `x / phases`, from `offset` (the image's
/// channels) on.
struct PhaseRows<'a> {
    lines: Vec<&'a mut [f32]>,
    phases: usize,
    pixel: usize,
    offset: usize,
}

impl RowsMut for PhaseRows<'_> {
    type Slot = f32;
    #[inline(always)]
    fn row(&mut self, x: usize) -> &mut [f32] {
        let start = (x / self.phases) * self.pixel + self.offset;
        &mut self.lines[x % self.phases][start..]
    }
}

/// One convolution in pixel-major terms: the windows (over the image side) and the channels
/// of the position side.
#[derive(Clone, Copy, Debug)]
pub struct TapConv {
    /// The windows over the image side.
    pub windows: Windows,
    /// Batch size.
    pub batch: usize,
    /// Channels of the position side.
    pub channels_out: usize,
}

/// Where tap `kx` of the positions `ox` lands, horizontally: the column phase `r`, the
/// column shift `d` (pixel column `j = ox + d` of phase `r`) and the positions whose
/// pixel lies inside the image.
#[derive(Clone, Copy, Debug)]
struct ColumnTap {
    phase: usize,
    shift: isize,
    first: usize,
    end: usize,
}

impl TapConv {
    /// The image side's layout.
    pub fn image(&self) -> PixelMajor {
        let w = &self.windows;
        PixelMajor {
            phases: w.stride[1].max(1),
            h: w.image[0],
            w: w.image[1],
            batch: self.batch,
            channels: w.channels,
        }
    }

    /// The position side's layout.
    pub fn positions(&self) -> PixelMajor {
        PixelMajor {
            phases: 1,
            h: self.windows.out[0],
            w: self.windows.out[1],
            batch: self.batch,
            channels: self.channels_out,
        }
    }

    fn taps(&self) -> usize {
        self.windows.kernel[0] * self.windows.kernel[1]
    }

    /// The image row that tap row `ky` of position row `oy` reads, if inside the image.
    fn image_row(&self, oy: usize, ky: usize) -> Option<usize> {
        let w = &self.windows;
        let y = (oy * w.stride[0] + ky).checked_sub(w.padding[0])?;
        (y < w.image[0]).then_some(y)
    }

    /// The position row whose tap row `ky` reads image row `iy`, if any (the inverse of
    /// [`Self::image_row`]).
    fn position_row(&self, iy: usize, ky: usize) -> Option<usize> {
        let w = &self.windows;
        let shifted = (iy + w.padding[0]).checked_sub(ky)?;
        let stride = w.stride[0].max(1);
        (shifted % stride == 0 && shifted / stride < w.out[0]).then_some(shifted / stride)
    }

    fn column_tap(&self, kx: usize) -> ColumnTap {
        let w = &self.windows;
        let image = self.image();
        let (s, offset) = (image.phases as isize, kx as isize - w.padding[1] as isize);
        let phase = offset.rem_euclid(s) as usize;
        let shift = offset.div_euclid(s);
        let cols = image.cols_of(phase) as isize;
        let first = (-shift).clamp(0, w.out[1] as isize) as usize;
        let end = (cols - shift).clamp(first as isize, w.out[1] as isize) as usize;
        ColumnTap {
            phase,
            shift,
            first,
            end,
        }
    }

    /// Positions per parallel task along a row.
    fn chunk(&self, row_len: usize) -> usize {
        ROWS_PER_TASK
            .div_ceil(self.batch.max(1))
            .clamp(1, row_len.max(1))
    }

    /// `y = sum_t x_t w_t`: `x` in the image layout, `weights` `[taps, C_img, C_o]`;
    /// returns `y` in the position layout.
    pub fn correlate(&self, x: &[f32], weights: &[f32]) -> Vec<f32> {
        let (image, positions) = (self.image(), self.positions());
        let (c_img, c_o, batch) = (image.channels, positions.channels, self.batch);
        assert_eq!(x.len(), image.len(), "correlate: image buffer size");
        assert_eq!(
            weights.len(),
            self.taps() * c_img * c_o,
            "correlate: weights"
        );
        let mut y = vec![0.0f32; positions.len()];
        if y.is_empty() {
            return y;
        }
        let [kh, kw] = self.windows.kernel;
        let columns: Vec<ColumnTap> = (0..kw).map(|kx| self.column_tap(kx)).collect();
        let out_w = self.windows.out[1];
        let chunk = self.chunk(out_w);
        y.par_chunks_mut(positions.row())
            .enumerate()
            .for_each(|(oy, row)| {
                row.par_chunks_mut(chunk * positions.pixel())
                    .enumerate()
                    .for_each(|(part, dst)| {
                        let (a, e) = (part * chunk, (part * chunk + chunk).min(out_w));
                        for ky in 0..kh {
                            let Some(iy) = self.image_row(oy, ky) else {
                                continue;
                            };
                            for (kx, col) in columns.iter().enumerate() {
                                let (lo, hi) = (col.first.max(a), col.end.min(e));
                                if lo >= hi {
                                    continue;
                                }
                                let rows = (hi - lo) * batch;
                                let j = (lo as isize + col.shift) as usize;
                                let src = &x[image.at(col.phase, iy, j)..][..rows * c_img];
                                let w = &weights[(ky * kw + kx) * c_img * c_o..][..c_img * c_o];
                                let out = &mut dst[(lo - a) * batch * c_o..][..rows * c_o];
                                matmul_into(
                                    MatMut::strided(out, rows, c_o, c_o),
                                    MatRef::row_major(src, rows, c_img),
                                    MatRef::row_major(w, c_img, c_o),
                                    true,
                                );
                            }
                        }
                    });
            });
        y
    }

    /// `x = sum_t y_t w_t^T`: `y` in the position layout, `weights` `[taps, C_img, C_o]`;
    /// returns `x` in the image layout (the adjoint of [`Self::correlate`]).
    pub fn correlate_adjoint(&self, y: &[f32], weights: &[f32]) -> Vec<f32> {
        let (image, positions) = (self.image(), self.positions());
        let (c_img, c_o, batch) = (image.channels, positions.channels, self.batch);
        assert_eq!(y.len(), positions.len(), "correlate_adjoint: buffer size");
        assert_eq!(weights.len(), self.taps() * c_img * c_o, "adjoint: weights");
        let mut x = vec![0.0f32; image.len()];
        if x.is_empty() {
            return x;
        }
        let [kh, kw] = self.windows.kernel;
        let columns: Vec<ColumnTap> = (0..kw).map(|kx| self.column_tap(kx)).collect();
        let cols = image.cols();
        let chunk = self.chunk(cols);
        x.par_chunks_mut(image.row())
            .enumerate()
            .for_each(|(line, row)| {
                let (r, iy) = (line / image.h, line % image.h);
                row.par_chunks_mut(chunk * image.pixel())
                    .enumerate()
                    .for_each(|(part, dst)| {
                        let (a, e) = (part * chunk, (part * chunk + chunk).min(cols));
                        for ky in 0..kh {
                            let Some(oy) = self.position_row(iy, ky) else {
                                continue;
                            };
                            for (kx, col) in columns.iter().enumerate() {
                                if col.phase != r {
                                    continue;
                                }
                                // Pixel columns j = ox + shift for the valid ox, within a..e.
                                let j_first = col.first as isize + col.shift;
                                let j_end = col.end as isize + col.shift;
                                let (lo, hi) = (j_first.max(a as isize), j_end.min(e as isize));
                                if lo >= hi {
                                    continue;
                                }
                                let (lo, hi) = (lo as usize, hi as usize);
                                let rows = (hi - lo) * batch;
                                let ox = (lo as isize - col.shift) as usize;
                                let src = &y[positions.at(0, oy, ox)..][..rows * c_o];
                                let w = &weights[(ky * kw + kx) * c_img * c_o..][..c_img * c_o];
                                let out = &mut dst[(lo - a) * batch * c_img..][..rows * c_img];
                                matmul_into(
                                    MatMut::strided(out, rows, c_img, c_img),
                                    MatRef::row_major(src, rows, c_o),
                                    MatRef::transposed(w, c_o, c_img),
                                    true,
                                );
                            }
                        }
                    });
            });
        x
    }

    /// `w_t = x_t^T y` for every tap: `x` in the image layout, `y` in the position layout;
    /// returns `[taps, C_img, C_o]`. Each tap sums its rows in a fixed order, so the result
    /// does not depend on the number of threads.
    pub fn weight_gradient(&self, x: &[f32], y: &[f32]) -> Vec<f32> {
        let (image, positions) = (self.image(), self.positions());
        let (c_img, c_o, batch) = (image.channels, positions.channels, self.batch);
        assert_eq!(x.len(), image.len(), "weight_gradient: image buffer size");
        assert_eq!(y.len(), positions.len(), "weight_gradient: buffer size");
        let mut grads = vec![0.0f32; self.taps() * c_img * c_o];
        if grads.is_empty() {
            return grads;
        }
        let [_, kw] = self.windows.kernel;
        let out_h = self.windows.out[0];
        // Few taps (1x1 kernels): let each product use every thread instead.
        let parallel_products = self.taps() < 2 * rayon::current_num_threads();
        let tap = |(t, dst): (usize, &mut [f32])| {
            let (ky, kx) = (t / kw, t % kw);
            let col = self.column_tap(kx);
            if col.first >= col.end {
                return;
            }
            let rows = (col.end - col.first) * batch;
            let j = (col.first as isize + col.shift) as usize;
            for oy in 0..out_h {
                let Some(iy) = self.image_row(oy, ky) else {
                    continue;
                };
                let src = &x[image.at(col.phase, iy, j)..][..rows * c_img];
                let grad = &y[positions.at(0, oy, col.first)..][..rows * c_o];
                let out = MatMut::strided(dst, c_img, c_o, c_o);
                let (lhs, rhs) = (
                    MatRef::transposed(src, c_img, rows),
                    MatRef::row_major(grad, rows, c_o),
                );
                if parallel_products {
                    matmul_into_par(out, lhs, rhs, true);
                } else {
                    matmul_into(out, lhs, rhs, true);
                }
            }
        };
        if parallel_products {
            grads.chunks_mut(c_img * c_o).enumerate().for_each(tap);
        } else {
            grads.par_chunks_mut(c_img * c_o).enumerate().for_each(tap);
        }
        grads
    }
}

/// Weights `[C_o, C_img, taps]` (a convolution's `[C_out, C_in, kh, kw]`, or a transposed
/// convolution's `[C_in, C_out, kh, kw]`) as `[taps, C_img, C_o]`.
pub fn weights_by_tap(weight: &[f32], c_o: usize, c_img: usize, taps: usize) -> Vec<f32> {
    assert_eq!(
        weight.len(),
        c_o * c_img * taps,
        "weights_by_tap: buffer size"
    );
    let by_input = transpose_inner(weight, 1, c_o, c_img * taps); // [C_img, taps, C_o]
    swap_outer(&by_input, c_img, taps, c_o)
}

/// The inverse of [`weights_by_tap`]: `[taps, C_img, C_o]` as `[C_o, C_img, taps]`.
pub fn weights_by_output(by_tap: &[f32], c_o: usize, c_img: usize, taps: usize) -> Vec<f32> {
    assert_eq!(
        by_tap.len(),
        c_o * c_img * taps,
        "weights_by_output: buffer size"
    );
    let by_input = swap_outer(by_tap, taps, c_img, c_o); // [C_img, taps, C_o]
    transpose_inner(&by_input, 1, c_img * taps, c_o)
}

/// `[a, b, run]` to `[b, a, run]`, one contiguous copy per run.
fn swap_outer(data: &[f32], a: usize, b: usize, run: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; data.len()];
    if out.is_empty() {
        return out;
    }
    out.par_chunks_mut(a * run)
        .enumerate()
        .for_each(|(j, dst)| {
            for (i, dst) in dst.chunks_mut(run).enumerate() {
                dst.copy_from_slice(&data[(i * b + j) * run..][..run]);
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_go_by_tap_and_back() {
        let (c_o, c_img, taps) = (3, 4, 5);
        let w: Vec<f32> = (0..c_o * c_img * taps).map(|v| v as f32).collect();
        let by_tap = weights_by_tap(&w, c_o, c_img, taps);
        for o in 0..c_o {
            for i in 0..c_img {
                for t in 0..taps {
                    assert_eq!(
                        by_tap[(t * c_img + i) * c_o + o],
                        w[(o * c_img + i) * taps + t]
                    );
                }
            }
        }
        assert_eq!(weights_by_output(&by_tap, c_o, c_img, taps), w);
    }

    #[test]
    fn pixel_major_layouts_round_trip() {
        // Width 7 in 3 phases: the phases hold 3, 2 and 2 columns.
        let layout = PixelMajor {
            phases: 3,
            h: 2,
            w: 7,
            batch: 2,
            channels: 3,
        };
        let nchw: Vec<f32> = (0..2 * 3 * 2 * 7).map(|v| v as f32).collect();
        let arranged = layout.arrange(&nchw);
        for (b, c, y, x) in [(0, 0, 0, 0), (1, 2, 1, 6), (0, 1, 1, 4), (1, 0, 0, 5)] {
            let at = layout.at(x % 3, y, x / 3) + b * 3 + c;
            assert_eq!(arranged[at], nchw[((b * 3 + c) * 2 + y) * 7 + x]);
        }
        crate::uninit::poison_freed(nchw.len());
        assert_eq!(layout.to_nchw(&arranged), nchw);
    }
}
