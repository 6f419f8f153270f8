//! The patch matrix of a 2-D convolution over a whole batch, and its adjoint.
//!
//! A convolution slides a `kh x kw` window with stride `(sh, sw)` over an image padded by
//! `(ph, pw)` at its start. Images here are channels-last (`[B, H, W, C]`), and the patch
//! matrix has one row per (image, window position) and one column per (kernel row, kernel
//! column, channel):
//! `patches[b*L + oy*ow + ox, (ky*kw + kx)*C + c] = img[b, oy*sh + ky - ph, ox*sw + kx - pw, c]`
//! (0 outside the image), with `L = oh * ow` positions per image. Each kernel row of a patch
//! is then one contiguous run of `kw * C` image elements. A convolution is one matrix product
//! for the whole batch, and [`scatter_patches`] (the transpose of [`patches`]) adds a patch
//! matrix back onto images, summing overlaps.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::uninit::{assume_init, uninit};

/// A zero of the patch matrix: a kernel tap outside the image.
const ZERO: MaybeUninit<f32> = MaybeUninit::new(0.0);

/// Where a kernel window lands: the image side (`channels x height x width`), the kernel,
/// stride and leading padding, and the number of window positions (`out_h x out_w`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Channels of the image side.
    pub channels: usize,
    /// Image height and width.
    pub image: [usize; 2],
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride along height and width.
    pub stride: [usize; 2],
    /// Padding before the first row and column (padding after them only changes `out`).
    pub padding: [usize; 2],
    /// Window positions along height and width.
    pub out: [usize; 2],
}

impl Windows {
    /// Window positions along an axis of `size` pixels padded by `(begin, end)`, for a kernel
    /// of `k` at `stride` (floor mode); `None` when the kernel is empty or longer than the
    /// padded axis.
    pub fn count_along(
        size: usize,
        (begin, end): (usize, usize),
        k: usize,
        stride: usize,
    ) -> Option<usize> {
        let padded = size + begin + end;
        (k > 0 && padded >= k).then(|| (padded - k) / stride + 1)
    }

    /// Length of one patch: `channels * kh * kw`.
    pub fn patch_len(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Window positions per image: `out_h * out_w`.
    pub fn positions(&self) -> usize {
        self.out[0] * self.out[1]
    }

    /// Whether each window is one pixel and every pixel one window (1x1 at stride 1 without
    /// padding): the image is its own patch matrix.
    pub fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.out == self.image
    }

    /// Elements of one image: `channels * height * width`.
    pub fn image_len(&self) -> usize {
        self.channels * self.image[0] * self.image[1]
    }

    /// For window position `o` along `axis`: the image coordinate of kernel offset 0 (which
    /// may lie in the padding, hence signed) and the kernel offsets that land in the image.
    #[inline]
    pub(crate) fn span(&self, axis: usize, o: usize) -> (isize, std::ops::Range<usize>) {
        let start = (o * self.stride[axis]) as isize - self.padding[axis] as isize;
        let size = self.image[axis] as isize;
        let k = self.kernel[axis] as isize;
        let first = (-start).clamp(0, k);
        let end = (size - start).clamp(first, k);
        (start, first as usize..end as usize)
    }
}

/// The patch matrix `[batch * positions, patch_len]` of `images` (`[batch, h, w, channels]`).
pub fn patches(images: &[f32], batch: usize, w: &Windows) -> Vec<f32> {
    assert_eq!(
        images.len(),
        batch * w.image_len(),
        "patches: image buffer size"
    );
    let kw = w.kernel[1];
    let iw = w.image[1];
    let c = w.channels;
    let len = w.patch_len();
    let mut out = uninit(batch * w.positions() * len);
    if len > 0 && !out.is_empty() {
        out.par_chunks_mut(w.out[1] * len)
            .enumerate()
            .for_each(|(line, out)| {
                let (b, oy) = (line / w.out[0], line % w.out[0]);
                let image = &images[b * w.image_len()..][..w.image_len()];
                let (y0, rows) = w.span(0, oy);
                for (ox, patch) in out.chunks_mut(len).enumerate() {
                    let (x0, cols) = w.span(1, ox);
                    // Each kernel row: zeros left of the image, its run of pixels, zeros
                    // right of it (all zeros for a kernel row above or below the image).
                    for (ky, kernel_row) in patch.chunks_mut(kw * c).enumerate() {
                        if !rows.contains(&ky) || cols.is_empty() {
                            kernel_row.fill(ZERO);
                            continue;
                        }
                        let iy = (y0 + ky as isize) as usize;
                        let from = ((iy * iw) as isize + x0 + cols.start as isize) as usize * c;
                        let (left, rest) = kernel_row.split_at_mut(cols.start * c);
                        let (run, right) = rest.split_at_mut(cols.len() * c);
                        left.fill(ZERO);
                        run.write_copy_of_slice(&image[from..][..run.len()]);
                        right.fill(ZERO);
                    }
                }
            });
    }
    // SAFETY: the lines cover `out`, the patches each line, the kernel rows each patch, and
    // every kernel row is written in full above (`len == 0` or an empty `out` has nothing
    // to write).
    #[allow(unsafe_code)]
    unsafe {
        assume_init(out)
    }
}

/// The images (`[batch, h, w, channels]`) whose patches sum to `patch_matrix`
/// (`[batch * positions, patch_len]`): the adjoint of [`patches`].
pub fn scatter_patches(patch_matrix: &[f32], batch: usize, w: &Windows) -> Vec<f32> {
    let len = w.patch_len();
    let per_image = w.positions() * len;
    assert_eq!(
        patch_matrix.len(),
        batch * per_image,
        "scatter_patches: buffer size"
    );
    let kw = w.kernel[1];
    let iw = w.image[1];
    let c = w.channels;
    let mut images = vec![0.0f32; batch * w.image_len()];
    if images.is_empty() || per_image == 0 {
        return images;
    }
    images
        .par_chunks_mut(w.image_len())
        .zip(patch_matrix.par_chunks(per_image))
        .for_each(|(image, src)| {
            for (position, patch) in src.chunks(len).enumerate() {
                let (y0, rows) = w.span(0, position / w.out[1]);
                let (x0, cols) = w.span(1, position % w.out[1]);
                if cols.is_empty() {
                    continue; // A window wholly in the padding after the image.
                }
                let run = cols.len() * c;
                for ky in rows.clone() {
                    let iy = (y0 + ky as isize) as usize;
                    let to = ((iy * iw) as isize + x0 + cols.start as isize) as usize * c;
                    let from = (ky * kw + cols.start) * c;
                    for (d, s) in image[to..][..run].iter_mut().zip(&patch[from..][..run]) {
                        *d += s;
                    }
                }
            }
        });
    images
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::ramp;

    fn windows() -> Windows {
        // 2 channels of 5x4, 3x2 kernel, stride (2, 1), padding (1, 1): out 3 x 5.
        Windows {
            channels: 2,
            image: [5, 4],
            kernel: [3, 2],
            stride: [2, 1],
            padding: [1, 1],
            out: [3, 5],
        }
    }

    #[test]
    fn patches_read_the_window_and_zero_padding() {
        let w = windows();
        let batch = 2;
        let img = ramp(batch * w.image_len(), 0, 0.1);
        crate::uninit::poison_freed(batch * w.positions() * w.patch_len());
        let p = patches(&img, batch, &w);
        for b in 0..batch {
            for c in 0..2 {
                for ky in 0..3 {
                    for kx in 0..2 {
                        for oy in 0..3 {
                            for ox in 0..5 {
                                let (iy, ix) = (oy * 2 + ky, ox + kx);
                                let expected = if (1..=5).contains(&iy) && (1..=4).contains(&ix) {
                                    img[((b * 5 + iy - 1) * 4 + ix - 1) * 2 + c]
                                } else {
                                    0.0
                                };
                                let row = b * 15 + oy * 5 + ox;
                                let col = (ky * 2 + kx) * 2 + c;
                                assert_eq!(p[row * w.patch_len() + col], expected);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn scatter_is_the_adjoint_of_patches() {
        // <patches(x), y> == <x, scatter_patches(y)> for any x, y, including windows that
        // overhang the image on both sides and skip pixels.
        let skipping = Windows {
            channels: 3,
            image: [7, 6],
            kernel: [2, 4],
            stride: [3, 2],
            padding: [0, 2],
            out: [2, 4],
        };
        for w in [windows(), skipping] {
            let batch = 3;
            let x = ramp(batch * w.image_len(), 0, 0.01);
            let y = ramp(batch * w.positions() * w.patch_len(), 0, 0.02);
            let dot = |a: &[f32], b: &[f32]| -> f64 {
                a.iter()
                    .zip(b)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum()
            };
            let lhs = dot(&patches(&x, batch, &w), &y);
            let rhs = dot(&x, &scatter_patches(&y, batch, &w));
            assert!(
                (lhs - rhs).abs() < 1e-6 * lhs.abs().max(1.0),
                "{lhs} vs {rhs}"
            );
        }
    }
}
