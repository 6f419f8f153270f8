//! A bounds-checked matrix product over strided views of host buffers, with `gemm` (the crate
//! burn's flex matmul uses, with the same run-time choice of SIMD kernels).

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::uninit::{assume_init, uninit};

/// A read-only strided matrix over a slice: element `(i, j)` is
/// `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows x cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// The transpose of the row-major `cols x rows` matrix in `data` (a `rows x cols` view).
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, 1, rows)
    }

    /// Any strided view; panics if an element would lie outside `data`.
    pub fn strided(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * row_stride + (cols - 1) * col_stride;
            assert!(last < data.len(), "matrix view exceeds its buffer");
        }
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }
}

/// Inner-dimension slice of one partial product when the inner dimension is split.
const K_CHUNK: usize = 4096;

/// `lhs x rhs` as a new row-major matrix, computed on rayon's threads.
///
/// `gemm` parallelises over the output only, so a product with a small output and a long
/// inner dimension (a weight gradient summed over every pixel of a batch: `[64 x 131072] x
/// [131072 x 48]`) would run on one thread. Such products are split into fixed slices of the
/// inner dimension, computed in parallel and summed in slice order, so the result does not
/// depend on the number of threads.
pub fn matmul(lhs: MatRef<'_>, rhs: MatRef<'_>) -> Vec<f32> {
    assert_eq!(lhs.cols, rhs.rows, "matmul: inner dimensions differ");
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    if m == 0 || n == 0 || k == 0 {
        return vec![0.0f32; m * n];
    }
    let chunks = k.div_ceil(K_CHUNK);
    if chunks < 4 || k < 8 * m.max(n) || m * n * chunks > 1 << 24 {
        return product(lhs, rhs, gemm::Parallelism::Rayon(0));
    }
    let partials: Vec<Vec<f32>> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let (start, len) = (c * K_CHUNK, K_CHUNK.min(k - c * K_CHUNK));
            product(
                lhs.columns(start, len),
                rhs.rows(start, len),
                gemm::Parallelism::None,
            )
        })
        .collect();
    // The first partial product is the start of the sum (`0 + p` is `p` exactly).
    let mut partials = partials.into_iter();
    let mut sum = partials.next().unwrap_or_else(|| vec![0.0f32; m * n]);
    for partial in partials {
        sum.iter_mut().zip(&partial).for_each(|(s, p)| *s += p);
    }
    sum
}

impl<'a> MatRef<'a> {
    /// Columns `start..start + len`.
    fn columns(&self, start: usize, len: usize) -> Self {
        assert!(start + len <= self.cols, "column range out of bounds");
        Self::strided(
            &self.data[start * self.col_stride..],
            self.rows,
            len,
            self.row_stride,
            self.col_stride,
        )
    }

    /// Rows `start..start + len`.
    fn rows(&self, start: usize, len: usize) -> Self {
        assert!(start + len <= self.rows, "row range out of bounds");
        Self::strided(
            &self.data[start * self.row_stride..],
            len,
            self.cols,
            self.row_stride,
            self.col_stride,
        )
    }
}

/// `lhs x rhs` as a new row-major matrix, in one `gemm` call.
fn product(lhs: MatRef<'_>, rhs: MatRef<'_>, parallelism: gemm::Parallelism) -> Vec<f32> {
    assert_eq!(lhs.cols, rhs.rows, "matmul: inner dimensions differ");
    let (m, n) = (lhs.rows, rhs.cols);
    let mut dst = uninit(m * n);
    if lhs.cols == 0 {
        dst.fill(MaybeUninit::new(0.0));
    } else if m > 0 && n > 0 {
        // SAFETY: `dst` is a fresh `m x n` row-major buffer, aliased by nothing; `gemm`
        // without `read_dst` writes every element and reads none.
        #[allow(unsafe_code)]
        unsafe {
            gemm_into(dst.as_mut_ptr().cast(), n, lhs, rhs, false, parallelism);
        }
    }
    // SAFETY: every element was written above (none exist when `m` or `n` is 0).
    #[allow(unsafe_code)]
    unsafe {
        assume_init(dst)
    }
}

/// A writable row-major matrix over a slice, rows `row_stride` apart: element `(i, j)` is
/// `data[i * row_stride + j]`.
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<'a> MatMut<'a> {
    /// A row-major `rows x cols` matrix with `row_stride` elements from one row to the next;
    /// panics if an element would lie outside `data`.
    pub fn strided(data: &'a mut [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * row_stride + cols - 1;
            assert!(last < data.len(), "matrix view exceeds its buffer");
        }
        Self {
            data,
            rows,
            cols,
            row_stride,
        }
    }
}

/// `dst += lhs x rhs` (or `dst = lhs x rhs` when `accumulate` is false), on the calling
/// thread.
pub fn matmul_into(dst: MatMut<'_>, lhs: MatRef<'_>, rhs: MatRef<'_>, accumulate: bool) {
    matmul_into_with(dst, lhs, rhs, accumulate, gemm::Parallelism::None)
}

/// [`matmul_into`] on rayon's threads.
pub fn matmul_into_par(dst: MatMut<'_>, lhs: MatRef<'_>, rhs: MatRef<'_>, accumulate: bool) {
    matmul_into_with(dst, lhs, rhs, accumulate, gemm::Parallelism::Rayon(0))
}

fn matmul_into_with(
    dst: MatMut<'_>,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    assert_eq!(lhs.cols, rhs.rows, "matmul: inner dimensions differ");
    assert!(
        dst.rows == lhs.rows && dst.cols == rhs.cols,
        "matmul: output shape differs"
    );
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst.data[i * dst.row_stride..][..n].fill(0.0);
            }
        }
        return;
    }
    // SAFETY: the constructors checked that the largest index of each view, `(rows - 1) *
    // row_stride + (cols - 1) * col_stride`, lies inside its slice; `dst` is borrowed
    // mutably, so no other view aliases it, and all of it is initialised memory.
    #[allow(unsafe_code)]
    unsafe {
        gemm_into(
            dst.data.as_mut_ptr(),
            dst.row_stride,
            lhs,
            rhs,
            accumulate,
            parallelism,
        );
    }
}

/// `dst += lhs x rhs` (or `dst = lhs x rhs` when `accumulate` is false) for a row-major
/// `lhs.rows x rhs.cols` destination at `dst`, rows `dst_row_stride` apart, in one `gemm`
/// call (`lhs.cols` at least 1).
///
/// # Safety
///
/// Every `dst.add(i * dst_row_stride + j)` for `i < lhs.rows`, `j < rhs.cols` is valid for
/// writes (and initialised, for reads, when `accumulate` is true), and no other reference
/// reaches those elements during the call. Without `accumulate`, `gemm` reads none of them.
#[allow(unsafe_code)]
unsafe fn gemm_into(
    dst: *mut f32,
    dst_row_stride: usize,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    // Strides index into slices, which never hold more than `isize::MAX` bytes.
    let stride = |s: usize| s as isize;
    // SAFETY: the caller vouches for `dst`; every index `gemm` reads of `lhs` and `rhs` is
    // `i * row_stride + j * col_stride` for `i < rows`, `j < cols` of its view, and the
    // views' constructors checked that the largest such index lies inside the slice.
    unsafe {
        gemm::gemm(
            lhs.rows,
            rhs.cols,
            lhs.cols,
            dst,
            1,
            stride(dst_row_stride),
            accumulate,
            lhs.data.as_ptr(),
            stride(lhs.col_stride),
            stride(lhs.row_stride),
            rhs.data.as_ptr(),
            stride(rhs.col_stride),
            stride(rhs.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(lhs: MatRef<'_>, rhs: MatRef<'_>) -> Vec<f32> {
        let mut out = vec![0.0; lhs.rows * rhs.cols];
        for i in 0..lhs.rows {
            for j in 0..rhs.cols {
                out[i * rhs.cols + j] = (0..lhs.cols)
                    .map(|p| {
                        lhs.data[i * lhs.row_stride + p * lhs.col_stride]
                            * rhs.data[p * rhs.row_stride + j * rhs.col_stride]
                    })
                    .sum();
            }
        }
        out
    }

    #[test]
    fn products_of_row_major_and_transposed_views_match_the_definition() {
        let a: Vec<f32> = (0..35).map(|i| (i % 7) as f32 - 3.0).collect();
        let b: Vec<f32> = (0..40).map(|i| (i % 5) as f32 * 0.5).collect();
        let cases = [
            (
                MatRef::row_major(&a, 5, 7),
                MatRef::row_major(&b[..35], 7, 5),
            ),
            (MatRef::transposed(&a, 7, 5), MatRef::row_major(&b, 5, 8)),
            (
                MatRef::row_major(&a, 5, 7),
                MatRef::transposed(&b[..21], 7, 3),
            ),
        ];
        for (lhs, rhs) in cases {
            crate::uninit::poison_freed(lhs.rows * rhs.cols);
            let got = matmul(lhs, rhs);
            let want = naive(lhs, rhs);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-4 * w.abs().max(1.0), "{g} vs {w}");
            }
        }
    }

    #[test]
    fn a_long_inner_dimension_is_split_and_summed() {
        let k = 5 * K_CHUNK + 123;
        let a: Vec<f32> = (0..3 * k)
            .map(|i| ((i * 7) % 13) as f32 / 13.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..k * 2)
            .map(|i| ((i * 5) % 11) as f32 / 11.0 - 0.5)
            .collect();
        let (lhs, rhs) = (MatRef::row_major(&a, 3, k), MatRef::transposed(&b, k, 2));
        let got = matmul(lhs, rhs);
        let want = naive(lhs, rhs);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-3 * w.abs().max(1.0), "{g} vs {w}");
        }
    }

    #[test]
    fn products_into_a_strided_output_overwrite_or_accumulate() {
        let a: Vec<f32> = (0..6).map(|i| i as f32 - 2.0).collect();
        let b: Vec<f32> = (0..12).map(|i| (i % 5) as f32 * 0.5).collect();
        let (lhs, rhs) = (MatRef::row_major(&a, 2, 3), MatRef::row_major(&b, 3, 4));
        let want = naive(lhs, rhs);
        // A 2 x 4 block inside rows of 6, whose last two columns must stay untouched.
        let mut dst = vec![1.0f32; 12];
        matmul_into(MatMut::strided(&mut dst, 2, 4, 6), lhs, rhs, false);
        matmul_into(MatMut::strided(&mut dst, 2, 4, 6), lhs, rhs, true);
        for i in 0..2 {
            for j in 0..6 {
                let expected = if j < 4 { 2.0 * want[i * 4 + j] } else { 1.0 };
                assert!((dst[i * 6 + j] - expected).abs() < 1e-5, "({i}, {j})");
            }
        }
    }

    #[test]
    #[should_panic(expected = "exceeds its buffer")]
    fn a_view_larger_than_its_buffer_is_refused() {
        let a = [0.0f32; 10];
        let _ = MatRef::row_major(&a, 3, 4);
    }
}
