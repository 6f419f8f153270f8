//! A convolution's forward pass as one product per image over its channel-major patch rows,
//! for inference on large feature maps.
//!
//! For one image `x` (`[C_in, H, W]`) the patch rows are the matrix `rows[K, L]`, `K = C_in *
//! kh * kw`, `L = oh * ow`, with
//! `rows[(c*kh + ky)*kw + kx, oy*ow + ox] = x[c, oy*sh + ky - ph, ox*sw + kx - pw]`
//! (0 outside the image). A convolution weight `[C_out, C_in, kh, kw]` is already the
//! row-major `[C_out, K]` matrix over the same order, so the image's output `[C_out, oh, ow]`
//! is the product `weight x rows`, written in place: no weight re-packing, no change of
//! layout on either side, and each patch row is built from runs of image rows (for stride 1,
//! straight copies). A 1x1 convolution at stride 1 without padding needs no patch rows at
//! all: the image is its own.
//!
//! Images are computed in parallel, each product on one thread, when the batch has at least
//! as many images as rayon has threads; otherwise one image after another, each product on
//! all threads.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::columns::Windows;
use crate::matmul::{MatMut, MatRef, matmul_into, matmul_into_par};
use crate::uninit::{assume_init, uninit};

/// `conv2d(x, weight)` without bias for `batch` NCHW images `x` and a `[C_out, C_in, kh, kw]`
/// `weight`, over the windows `w` (`w.channels == C_in`): `[batch, C_out, oh, ow]`.
pub fn conv_by_image(x: &[f32], weight: &[f32], batch: usize, w: &Windows) -> Vec<f32> {
    let (k, l) = (w.patch_len(), w.positions());
    let c_out = weight.len() / k.max(1);
    assert_eq!(x.len(), batch * w.image_len(), "conv_by_image: input size");
    assert_eq!(weight.len(), c_out * k, "conv_by_image: weight size");
    let mut out = vec![0.0f32; batch * c_out * l];
    if out.is_empty() {
        return out;
    }
    let weight = MatRef::row_major(weight, c_out, k);
    let one_image = |(image, out): (&[f32], &mut [f32]), parallel: bool| {
        let built;
        let rows = if w.is_pointwise() {
            image
        } else {
            built = patch_rows(image, w);
            &built
        };
        let dst = MatMut::strided(out, c_out, l, l);
        let rows = MatRef::row_major(rows, k, l);
        if parallel {
            matmul_into_par(dst, weight, rows, false);
        } else {
            matmul_into(dst, weight, rows, false);
        }
    };
    let (image_len, out_len) = (w.image_len(), c_out * l);
    if batch >= rayon::current_num_threads() {
        x.par_chunks(image_len)
            .zip(out.par_chunks_mut(out_len))
            .for_each(|pair| one_image(pair, false));
    } else {
        x.chunks(image_len)
            .zip(out.chunks_mut(out_len))
            .for_each(|pair| one_image(pair, true));
    }
    out
}

/// The patch rows `[K, L]` of one `[C_in, H, W]` image.
fn patch_rows(image: &[f32], w: &Windows) -> Vec<f32> {
    let [kh, kw] = w.kernel;
    let [ih, iw] = w.image;
    let [oh, ow] = w.out;
    let l = oh * ow;
    let mut rows = uninit(w.patch_len() * l);
    for (r, row) in rows.chunks_mut(l).enumerate() {
        let (c, ky, kx) = (r / (kh * kw), r / kw % kh, r % kw);
        let plane = &image[c * ih * iw..][..ih * iw];
        for (oy, line) in row.chunks_mut(ow).enumerate() {
            let iy = (oy * w.stride[0] + ky) as isize - w.padding[0] as isize;
            if !(0..ih as isize).contains(&iy) {
                line.fill(MaybeUninit::new(0.0));
                continue;
            }
            let src = &plane[iy as usize * iw..][..iw];
            fill_line(line, src, kx, w.stride[1], w.padding[1]);
        }
    }
    // SAFETY: the rows cover the buffer, the lines each row, and every line is written in
    // full (zeros, or `fill_line`, which writes every element).
    #[allow(unsafe_code)]
    unsafe {
        assume_init(rows)
    }
}

/// Writes `line[ox] = src[ox*stride + kx - pad]`, 0 where that lies outside `src`.
fn fill_line(line: &mut [MaybeUninit<f32>], src: &[f32], kx: usize, stride: usize, pad: usize) {
    let start = kx as isize - pad as isize;
    let at = |ox: usize| start + (ox * stride) as isize;
    let inside = |ox: usize| (0..src.len() as isize).contains(&at(ox));
    let first = (0..line.len()).find(|&ox| inside(ox)).unwrap_or(line.len());
    let end = (first..line.len())
        .find(|&ox| !inside(ox))
        .unwrap_or(line.len());
    let (left, rest) = line.split_at_mut(first);
    let (run, right) = rest.split_at_mut(end - first);
    left.fill(MaybeUninit::new(0.0));
    right.fill(MaybeUninit::new(0.0));
    if run.is_empty() {
        return;
    }
    let from = at(first) as usize;
    if stride == 1 {
        run.write_copy_of_slice(&src[from..][..run.len()]);
    } else {
        for (i, slot) in run.iter_mut().enumerate() {
            slot.write(src[from + i * stride]);
        }
    }
}
