//! Loops over whole buffers, split across rayon's threads and compiled for the CPU's widest
//! SIMD instructions (chosen at run time): the building blocks of the normalisation and
//! activation kernels.
//!
//! burn-flex runs its element-wise operations on one thread, and each one is a separate pass;
//! the kernels built from these fuse a layer's arithmetic into one pass per direction.

use rayon::prelude::*;

use crate::uninit::{Slot, assume_init, uninit};

/// Elements of one parallel task: large enough that splitting costs nothing measurable.
const TASK: usize = 16 * 1024;

/// Runs `f` compiled for the best instruction set this CPU has (AVX2/AVX-512 on x86-64), so
/// that the loops inlined into it are vectorised for it.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `out[i] = f([inputs[0][i], ...])` for every `i`, in parallel.
pub fn map<O: Slot + Send, const I: usize>(
    out: &mut [O],
    inputs: [&[f32]; I],
    f: impl Fn([f32; I]) -> f32 + Sync + Copy,
) {
    for input in &inputs {
        assert_eq!(
            input.len(),
            out.len(),
            "element-wise map: buffer sizes differ"
        );
    }
    out.par_chunks_mut(TASK)
        .enumerate()
        .for_each(|(task, out)| {
            let start = task * TASK;
            let inputs = inputs.map(|input| &input[start..start + out.len()]);
            vectorized(
                #[inline(always)]
                || {
                    // A local copy: its captures then live in registers, not behind a
                    // pointer the compiler must assume the output may overwrite (which
                    // keeps the loop from being vectorised).
                    let kernel = f;
                    let n = out.len();
                    let inputs = inputs.map(|input| &input[..n]);
                    for (i, o) in out.iter_mut().enumerate() {
                        o.set(kernel(inputs.map(|input| input[i])));
                    }
                },
            );
        });
}

/// A new buffer of `f` applied to every element of `inputs`.
pub fn mapped<const I: usize>(
    inputs: [&[f32]; I],
    f: impl Fn([f32; I]) -> f32 + Sync + Copy,
) -> Vec<f32> {
    let len = inputs.first().map_or(0, |input| input.len());
    let mut out = uninit(len);
    map(&mut out, inputs, f);
    // SAFETY: `map` writes every element of `out`.
    #[allow(unsafe_code)]
    unsafe {
        assume_init(out)
    }
}

/// A buffer viewed as `[batch, channels, spatial]` (a `[B, C]` or `[B, C, H, W]` tensor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channels {
    /// Batch size.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Elements per channel and image (`H * W`, 1 for `[B, C]`).
    pub spatial: usize,
}

impl Channels {
    /// Elements in all.
    pub fn len(&self) -> usize {
        self.batch * self.channels * self.spatial
    }

    /// Elements per channel: `batch * spatial`.
    pub fn per_channel(&self) -> usize {
        self.batch * self.spatial
    }

    fn check<const N: usize>(&self, buffers: &[&[f32]; N], params: &[&[f32]]) {
        for b in buffers {
            assert_eq!(b.len(), self.len(), "channels: buffer size");
        }
        for p in params {
            assert_eq!(p.len(), self.channels, "channels: parameter count");
        }
    }

    /// A new buffer of `f(inputs at i, params of i's channel)` for every element, as
    /// [`Self::map`] writes it.
    pub fn mapped<const I: usize, const P: usize>(
        &self,
        inputs: [&[f32]; I],
        params: [&[f32]; P],
        f: impl Fn([f32; I], [f32; P]) -> f32 + Sync + Copy,
    ) -> Vec<f32> {
        let mut out = uninit(self.len());
        self.map(&mut out, inputs, params, f);
        // SAFETY: `map` writes every element of `out`.
        #[allow(unsafe_code)]
        unsafe {
            assume_init(out)
        }
    }

    /// `out[i] = f(inputs at i, params of i's channel)` for every element, in parallel over
    /// images.
    pub fn map<O: Slot + Send, const I: usize, const P: usize>(
        &self,
        out: &mut [O],
        inputs: [&[f32]; I],
        params: [&[f32]; P],
        f: impl Fn([f32; I], [f32; P]) -> f32 + Sync + Copy,
    ) {
        self.check(&inputs, &params);
        assert_eq!(out.len(), self.len(), "channels: output size");
        let (c, s) = (self.channels, self.spatial);
        if out.is_empty() {
            return;
        }
        out.par_chunks_mut(c * s)
            .enumerate()
            .for_each(|(image, out)| {
                let row = image * c * s;
                vectorized(
                    #[inline(always)]
                    || {
                        let kernel = f; // in registers (see `map`)
                        if s == 1 {
                            // One element per channel: vectorise across channels.
                            let inputs = inputs.map(|input| &input[row..row + c]);
                            let params = params.map(|p| &p[..c]);
                            let out = &mut out[..c];
                            for (ch, o) in out.iter_mut().enumerate() {
                                o.set(kernel(inputs.map(|input| input[ch]), params.map(|p| p[ch])));
                            }
                        } else {
                            for (ch, out) in out.chunks_exact_mut(s).enumerate() {
                                let at = row + ch * s;
                                let inputs = inputs.map(|input| &input[at..at + s]);
                                let params = params.map(|p| p[ch]);
                                for (i, o) in out.iter_mut().enumerate() {
                                    o.set(kernel(inputs.map(|input| input[i]), params));
                                }
                            }
                        }
                    },
                );
            });
    }

    /// For every channel, the sums over its elements (all images, all positions) of the `K`
    /// terms `f(inputs at i, params of the channel)`. Each channel is summed in a fixed order
    /// (8 partial sums in `f32` per contiguous run, added up in `f64`), so the result does
    /// not depend on the number of threads.
    pub fn sums<const I: usize, const P: usize, const K: usize>(
        &self,
        inputs: [&[f32]; I],
        params: [&[f32]; P],
        f: impl Fn([f32; I], [f32; P]) -> [f32; K] + Sync + Copy,
    ) -> Vec<[f64; K]> {
        self.check(&inputs, &params);
        let (b, c, s) = (self.batch, self.channels, self.spatial);
        let mut sums = vec![[0.0f64; K]; c];
        if self.len() == 0 {
            return sums;
        }
        let group = TASK.div_ceil(self.per_channel()).clamp(1, c);
        sums.par_chunks_mut(group)
            .enumerate()
            .for_each(|(task, sums)| {
                let first = task * group;
                vectorized(
                    #[inline(always)]
                    || {
                        let kernel = f; // in registers (see `map`)
                        if s == 1 {
                            // One element per channel and image: vectorise across channels,
                            // one accumulator array per term.
                            let n = sums.len();
                            let params = params.map(|p| &p[first..first + n]);
                            let mut acc: [Vec<f64>; K] = std::array::from_fn(|_| vec![0.0; n]);
                            for image in 0..b {
                                let row = image * c + first;
                                let inputs = inputs.map(|input| &input[row..row + n]);
                                let mut acc = acc.each_mut().map(|a| &mut a[..n]);
                                for ch in 0..n {
                                    let terms = kernel(
                                        inputs.map(|input| input[ch]),
                                        params.map(|p| p[ch]),
                                    );
                                    for (a, t) in acc.iter_mut().zip(terms) {
                                        a[ch] += f64::from(t);
                                    }
                                }
                            }
                            for (ch, sum) in sums.iter_mut().enumerate() {
                                *sum = std::array::from_fn(|k| acc[k][ch]);
                            }
                        } else {
                            for (ch, sum) in sums.iter_mut().enumerate() {
                                let params = params.map(|p| p[first + ch]);
                                for image in 0..b {
                                    let at = (image * c + first + ch) * s;
                                    let inputs = inputs.map(|input| &input[at..at + s]);
                                    let run = run_sums(s, |i| kernel(inputs.map(|x| x[i]), params));
                                    for (s, r) in sum.iter_mut().zip(run) {
                                        *s += r;
                                    }
                                }
                            }
                        }
                    },
                );
            });
        sums
    }
}

/// Sums of the `K` terms of `term(i)` for `i < n`, in 8 interleaved `f32` partial sums
/// (which the compiler can keep in one vector register per term).
#[inline(always)]
fn run_sums<const K: usize>(n: usize, term: impl Fn(usize) -> [f32; K]) -> [f64; K] {
    const LANES: usize = 8;
    let mut lanes = [[0.0f32; LANES]; K];
    let full = n / LANES * LANES;
    for i0 in (0..full).step_by(LANES) {
        for lane in 0..LANES {
            for (sums, t) in lanes.iter_mut().zip(term(i0 + lane)) {
                sums[lane] += t;
            }
        }
    }
    let mut sums = lanes.map(|l| l.iter().map(|&v| f64::from(v)).sum::<f64>());
    for i in full..n {
        for (s, t) in sums.iter_mut().zip(term(i)) {
            *s += f64::from(t);
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::ramp;

    #[test]
    fn map_applies_the_function_to_every_element() {
        let (a, b) = (ramp(40_000, 0, 0.01), ramp(40_001, 0, 0.01)[1..].to_vec());
        crate::uninit::poison_freed(a.len());
        let out = mapped([&a, &b], |[x, y]| x * 2.0 + y);
        for i in 0..a.len() {
            assert_eq!(out[i], a[i] * 2.0 + b[i]);
        }
    }

    #[test]
    fn channel_maps_and_sums_follow_the_channel_of_each_element() {
        for (batch, channels, spatial) in [(3, 5, 7), (4, 6, 1), (2, 3, 16), (1, 1, 1)] {
            let shape = Channels {
                batch,
                channels,
                spatial,
            };
            let x = ramp(shape.len(), 0, 0.01);
            let scale: Vec<f32> = (0..channels).map(|c| c as f32 + 1.0).collect();
            let mut out = vec![0.0; shape.len()];
            shape.map(&mut out, [&x], [&scale], |[v], [s]| v * s);
            let sums = shape.sums([&x], [&scale], |[v], [s]| [v, v * s]);
            let mut want = vec![[0.0f64; 2]; channels];
            for (i, (&v, &o)) in x.iter().zip(&out).enumerate() {
                let ch = (i / spatial) % channels;
                assert_eq!(o, v * scale[ch], "map at {i}, {shape:?}");
                want[ch][0] += f64::from(v);
                want[ch][1] += f64::from(v * scale[ch]);
            }
            for (got, want) in sums.iter().zip(&want) {
                for k in 0..2 {
                    assert!(
                        (got[k] - want[k]).abs() < 1e-5,
                        "{shape:?}: {got:?} {want:?}"
                    );
                }
            }
        }
    }
}
