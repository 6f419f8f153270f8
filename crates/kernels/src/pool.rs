//! 2-D average and maximum pooling over host buffers, one `[H, W]` plane at a time.
//!
//! For each output row the window's image rows are first reduced element-wise into one row
//! (contiguous, vectorised), then each output element reduces its window's columns of that
//! row. Windows are clipped to the image: the padding is never read, so a maximum ignores it
//! and an average divides either by the number of pixels inside the picture or by the
//! kernel's size (`count_include_pad`, which floor-mode windows always fit inside the padded
//! picture for).

use rayon::prelude::*;

use crate::columns::Windows;

/// What a window reduces to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// The mean; with `count_include_pad`, the sum divided by the kernel's size.
    Mean {
        /// Whether the padding counts in the divisor.
        count_include_pad: bool,
    },
    /// The maximum.
    Max,
}

/// `planes` pooled planes of `x` (`[planes, h, w]`) over the windows `w` (`w.channels` is
/// ignored): `[planes, oh, ow]`. Every window must overlap the image (padding smaller than
/// the kernel).
pub fn pool(x: &[f32], planes: usize, w: &Windows, reduce: Reduce) -> Vec<f32> {
    let [ih, iw] = w.image;
    let [oh, ow] = w.out;
    assert_eq!(x.len(), planes * ih * iw, "pool: input size");
    let mut out = vec![0.0f32; planes * oh * ow];
    if out.is_empty() {
        return out;
    }
    out.par_chunks_mut(oh * ow)
        .zip(x.par_chunks(ih * iw))
        .for_each(|(out, plane)| {
            let mut rows = vec![0.0f32; iw];
            for (oy, line) in out.chunks_mut(ow).enumerate() {
                let (y0, ky) = w.span(0, oy);
                let first = (y0 + ky.start as isize) as usize;
                let height = ky.len();
                rows.copy_from_slice(&plane[first * iw..][..iw]);
                for row in plane[(first + 1) * iw..].chunks(iw).take(height - 1) {
                    combine(&mut rows, row, reduce);
                }
                for (ox, o) in line.iter_mut().enumerate() {
                    let (x0, kx) = w.span(1, ox);
                    let from = (x0 + kx.start as isize) as usize;
                    let window = &rows[from..from + kx.len()];
                    *o = match reduce {
                        Reduce::Max => window.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                        Reduce::Mean { count_include_pad } => {
                            let count = if count_include_pad {
                                w.kernel[0] * w.kernel[1]
                            } else {
                                height * kx.len()
                            };
                            window.iter().sum::<f32>() / count as f32
                        }
                    };
                }
            }
        });
    out
}

/// `acc[i] = acc[i] + row[i]` (mean) or `max(acc[i], row[i])`.
#[inline]
fn combine(acc: &mut [f32], row: &[f32], reduce: Reduce) {
    match reduce {
        Reduce::Max => acc.iter_mut().zip(row).for_each(|(a, &r)| *a = a.max(r)),
        Reduce::Mean { .. } => acc.iter_mut().zip(row).for_each(|(a, &r)| *a += r),
    }
}
