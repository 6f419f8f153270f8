//! Transposes in 8 x 8 blocks: the layout changes between `[B, C, H, W]` images and the
//! channels-last matrices the convolutions multiply.
//!
//! A block is read as 8 source rows of 8 elements and written as 8 destination rows of 8
//! elements, so both sides are touched in contiguous runs. On x86-64 CPUs with AVX2 a block
//! is transposed in registers with 24 shuffles (about 3x faster than element by element,
//! BENCHMARKS.md); elsewhere element by element. Either way each element is moved once, so the
//! results are identical.

use crate::uninit::{Slot, assume_init, uninit};

/// Destination rows of a transpose: row `j` (source column `j`) starts at `row(j)[0]`.
pub trait RowsMut {
    /// The destination's elements.
    type Slot: Slot;
    /// The destination from the start of row `j` on.
    fn row(&mut self, j: usize) -> &mut [Self::Slot];
}

/// Rows `stride` apart in one buffer, the first at `offset`.
pub struct Strided<'a, T = f32> {
    /// The buffer.
    pub data: &'a mut [T],
    /// Elements from one row to the next.
    pub stride: usize,
    /// Where row 0 starts.
    pub offset: usize,
}

impl<T: Slot> RowsMut for Strided<'_, T> {
    type Slot = T;
    #[inline(always)]
    fn row(&mut self, j: usize) -> &mut [T] {
        &mut self.data[self.offset + j * self.stride..]
    }
}

/// `dst.row(j)[i] = src[src_row(i) + j]` for `i < rows`, `j < cols`: the `rows x cols`
/// matrix whose row `i` starts at `src_row(i)` (elements contiguous), written transposed.
pub fn transpose_rows(
    src: &[f32],
    rows: usize,
    cols: usize,
    src_row: impl Fn(usize) -> usize,
    dst: &mut impl RowsMut,
) {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(
            #[inline(always)]
            || blocks(Avx(simd), src, rows, cols, &src_row, dst),
        );
    }
    blocks(Scalar, src, rows, cols, &src_row, dst);
}

/// `[outer, a, b]` to `[outer, b, a]`: the layout change between `[B, C, positions]` images
/// and `[B * positions, C]` matrix rows (and of weights, with `outer = 1`). Parallel tasks
/// each write a block of destination rows (source columns) of one outer index.
pub fn transpose_inner(data: &[f32], outer: usize, a: usize, b: usize) -> Vec<f32> {
    use rayon::prelude::*;
    assert_eq!(data.len(), outer * a * b, "transpose_inner: buffer size");
    if a <= 1 || b <= 1 {
        return data.to_vec();
    }
    let mut out = uninit(data.len());
    // Destination rows per task: all of them, or blocks of 8 that give each task ~16K elements.
    let rows = b.min((16 * 1024 / a).max(1).next_multiple_of(8));
    out.par_chunks_mut(a * b)
        .zip(data.par_chunks(a * b))
        .flat_map(|(out, src)| {
            out.par_chunks_mut(rows * a)
                .enumerate()
                .map(move |(block, out)| (block * rows, out, src))
        })
        .for_each(|(first, out, src)| {
            let cols = out.len() / a;
            let mut dst = Strided {
                data: out,
                stride: a,
                offset: 0,
            };
            transpose_rows(src, a, cols, |i| i * b + first, &mut dst);
        });
    // SAFETY: the tasks' destination rows `first..first + cols` of each outer index cover
    // all `b` rows of `a` elements, and `transpose_rows` writes each of them in full.
    #[allow(unsafe_code)]
    unsafe {
        assume_init(out)
    }
}

/// How one 8 x 8 block is transposed.
trait Block8: Copy {
    /// The rows `row(0..8)` as columns: `out[j][i] = row(i)[j]`.
    fn block(self, row: impl Fn(usize) -> [f32; 8]) -> [[f32; 8]; 8];
}

#[derive(Clone, Copy)]
struct Scalar;

impl Block8 for Scalar {
    #[inline(always)]
    fn block(self, row: impl Fn(usize) -> [f32; 8]) -> [[f32; 8]; 8] {
        let r: [[f32; 8]; 8] = std::array::from_fn(row);
        std::array::from_fn(|j| std::array::from_fn(|i| r[i][j]))
    }
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx(pulp::x86::V3);

#[cfg(target_arch = "x86_64")]
impl Block8 for Avx {
    #[inline(always)]
    fn block(self, row: impl Fn(usize) -> [f32; 8]) -> [[f32; 8]; 8] {
        use std::arch::x86_64::__m256;
        let x = self.0.avx;
        let r: [__m256; 8] = std::array::from_fn(|i| pulp::cast(row(i)));
        // Pairs of rows interleaved, then quadruples, then the two 128-bit halves swapped.
        let t0 = x._mm256_unpacklo_ps(r[0], r[1]);
        let t1 = x._mm256_unpackhi_ps(r[0], r[1]);
        let t2 = x._mm256_unpacklo_ps(r[2], r[3]);
        let t3 = x._mm256_unpackhi_ps(r[2], r[3]);
        let t4 = x._mm256_unpacklo_ps(r[4], r[5]);
        let t5 = x._mm256_unpackhi_ps(r[4], r[5]);
        let t6 = x._mm256_unpacklo_ps(r[6], r[7]);
        let t7 = x._mm256_unpackhi_ps(r[6], r[7]);
        let s0 = x._mm256_shuffle_ps::<0x44>(t0, t2);
        let s1 = x._mm256_shuffle_ps::<0xEE>(t0, t2);
        let s2 = x._mm256_shuffle_ps::<0x44>(t1, t3);
        let s3 = x._mm256_shuffle_ps::<0xEE>(t1, t3);
        let s4 = x._mm256_shuffle_ps::<0x44>(t4, t6);
        let s5 = x._mm256_shuffle_ps::<0xEE>(t4, t6);
        let s6 = x._mm256_shuffle_ps::<0x44>(t5, t7);
        let s7 = x._mm256_shuffle_ps::<0xEE>(t5, t7);
        [
            x._mm256_permute2f128_ps::<0x20>(s0, s4),
            x._mm256_permute2f128_ps::<0x20>(s1, s5),
            x._mm256_permute2f128_ps::<0x20>(s2, s6),
            x._mm256_permute2f128_ps::<0x20>(s3, s7),
            x._mm256_permute2f128_ps::<0x31>(s0, s4),
            x._mm256_permute2f128_ps::<0x31>(s1, s5),
            x._mm256_permute2f128_ps::<0x31>(s2, s6),
            x._mm256_permute2f128_ps::<0x31>(s3, s7),
        ]
        .map(pulp::cast)
    }
}

/// The first 8 elements of `s` (which has at least 8).
#[inline(always)]
fn eight(s: &[f32]) -> [f32; 8] {
    <[f32; 8]>::try_from(&s[..8]).unwrap_or_default()
}

#[inline(always)]
fn blocks(
    kernel: impl Block8,
    src: &[f32],
    rows: usize,
    cols: usize,
    src_row: &impl Fn(usize) -> usize,
    dst: &mut impl RowsMut,
) {
    const B: usize = 8;
    let full_rows = rows / B * B;
    for i0 in (0..full_rows).step_by(B) {
        let starts: [usize; B] = std::array::from_fn(|i| src_row(i0 + i));
        let mut j0 = 0;
        // Blocks while at least two columns are left, their rows read 8 wide (the columns
        // past the last are not written back) as long as that stays inside `src`.
        while cols - j0 >= 2 && starts.iter().all(|s| s + j0 + B <= src.len()) {
            let block = kernel.block(|i| eight(&src[starts[i] + j0..]));
            for (j, column) in block.iter().take(cols - j0).enumerate() {
                Slot::put(&mut dst.row(j0 + j)[i0..i0 + B], column);
            }
            j0 = (j0 + B).min(cols);
        }
        for j in j0..cols {
            let column: [f32; B] = std::array::from_fn(|i| src[starts[i] + j]);
            Slot::put(&mut dst.row(j)[i0..i0 + B], &column);
        }
    }
    for i in full_rows..rows {
        let start = src_row(i);
        for j in 0..cols {
            Slot::put(&mut dst.row(j)[i..=i], &[src[start + j]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rows: usize, cols: usize) {
        let data: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
        let mut want = vec![0.0f32; rows * cols];
        for i in 0..rows {
            for j in 0..cols {
                want[j * rows + i] = data[i * cols + j];
            }
        }
        let mut scalar = vec![0.0f32; rows * cols];
        let mut dst = Strided {
            data: &mut scalar,
            stride: rows,
            offset: 0,
        };
        blocks(Scalar, &data, rows, cols, &|i| i * cols, &mut dst);
        assert_eq!(scalar, want, "scalar blocks, {rows} x {cols}");
        assert_eq!(
            transpose_inner(&data, 1, rows, cols),
            want,
            "{rows} x {cols}"
        );
    }

    #[test]
    fn blocks_and_edges_land_where_the_definition_puts_them() {
        for (rows, cols) in [
            (8, 8),
            (16, 24),
            (19, 33),
            (7, 5),
            (1, 9),
            (9, 1),
            (64, 49),
            (4096, 21),
        ] {
            check(rows, cols);
        }
    }

    #[test]
    fn transpose_inner_swaps_the_two_inner_axes() {
        let data: Vec<f32> = (0..2 * 19 * 33).map(|i| (i * 37 % 101) as f32).collect();
        crate::uninit::poison_freed(data.len());
        let t = transpose_inner(&data, 2, 19, 33);
        for o in 0..2 {
            for i in 0..19 {
                for j in 0..33 {
                    assert_eq!(t[(o * 33 + j) * 19 + i], data[(o * 19 + i) * 33 + j]);
                }
            }
        }
        assert_eq!(transpose_inner(&t, 2, 33, 19), data);
        // One row or one column: a copy.
        assert_eq!(transpose_inner(&data, 2, 1, 627), data);
    }

    #[test]
    fn rows_may_start_anywhere() {
        // Source rows 10 apart (8 used), destination rows 12 apart from offset 3.
        let src: Vec<f32> = (0..100).map(|v| v as f32).collect();
        let mut out = vec![-1.0f32; 3 + 12 * 8];
        let mut dst = Strided {
            data: &mut out,
            stride: 12,
            offset: 3,
        };
        transpose_rows(&src, 9, 8, |i| i * 10 + 1, &mut dst);
        for j in 0..8 {
            for i in 0..9 {
                assert_eq!(out[3 + j * 12 + i], src[i * 10 + 1 + j], "({i}, {j})");
            }
            assert_eq!(out[3 + j * 12 + 9], -1.0, "row {j} written past its end");
        }
        assert_eq!(out[..3], [-1.0; 3]);
    }
}
