//! How close an image is to the one it should be: mean absolute error, PSNR and SSIM, over
//! the whole image or over the pixels a mask selects (the hole of an inpainting).
//!
//! Images are `[C, H, W]` slices in the same value range, whose width (`max - min`, 2 for
//! images in `[-1, 1]`) PSNR and SSIM are told. SSIM is Wang et al. (2004) as scikit-image's
//! `structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`
//! computes it: local statistics under an 11x11 Gaussian window (sigma 1.5, image edges
//! mirrored), `K1 = 0.01`, `K2 = 0.03`, the map averaged per channel away from the border (5
//! pixels, where the window leaves the image) and over the channels; with a mask, averaged
//! over the masked pixels instead.

use crate::error::MetricsError;

/// `K1` and `K2` of SSIM's stabilising constants `(K data_range)^2`.
const SSIM_K: [f64; 2] = [0.01, 0.03];
/// Standard deviation of SSIM's Gaussian window.
const SSIM_SIGMA: f64 = 1.5;
/// Half-width of the window: scipy's `int(3.5 sigma + 0.5)`.
const SSIM_RADIUS: usize = 5;

/// The shape `[C, H, W]` of two images and, optionally, a mask `[H, W]` (true where it counts).
#[derive(Debug, Clone, Copy)]
pub struct ImagePair<'a> {
    /// The image judged.
    pub output: &'a [f32],
    /// The image it should be.
    pub target: &'a [f32],
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// The pixels that count, `[H, W]`; all of them when `None`.
    pub mask: Option<&'a [bool]>,
}

impl ImagePair<'_> {
    fn check(&self) -> Result<usize, MetricsError> {
        let [c, h, w] = self.shape;
        let len = c * h * w;
        if self.output.len() != len || self.target.len() != len {
            return Err(MetricsError::Ragged {
                len: self.output.len().max(self.target.len()),
                dim: len,
            });
        }
        if self.mask.is_some_and(|m| m.len() != h * w) {
            return Err(MetricsError::Ragged {
                len: self.mask.map_or(0, <[bool]>::len),
                dim: h * w,
            });
        }
        if let Some(i) = self
            .output
            .iter()
            .chain(self.target)
            .position(|v| !v.is_finite())
        {
            return Err(MetricsError::NotFinite { row: i % len });
        }
        let counted = self
            .mask
            .map_or(h * w, |m| m.iter().filter(|&&m| m).count());
        match counted * c {
            0 => Err(MetricsError::Empty),
            n => Ok(n),
        }
    }

    /// Whether pixel `i` (of `H * W`) counts.
    fn counts(&self, i: usize) -> bool {
        self.mask.is_none_or(|m| m[i])
    }

    /// Sum of `f(output, target)` over the counted values, and their number.
    fn sum(&self, f: impl Fn(f64, f64) -> f64) -> Result<(f64, usize), MetricsError> {
        let n = self.check()?;
        let plane = self.shape[1] * self.shape[2];
        let total = self
            .output
            .iter()
            .zip(self.target)
            .enumerate()
            .filter(|(i, _)| self.counts(i % plane))
            .map(|(_, (&a, &b))| f(a as f64, b as f64))
            .sum();
        Ok((total, n))
    }
}

/// Mean absolute difference over the counted values.
pub fn mean_absolute_error(pair: ImagePair<'_>) -> Result<f64, MetricsError> {
    let (total, n) = pair.sum(|a, b| (a - b).abs())?;
    Ok(total / n as f64)
}

/// Peak signal-to-noise ratio in dB, `10 log10(range^2 / MSE)` over the counted values
/// (infinite for identical images).
pub fn psnr(pair: ImagePair<'_>, data_range: f64) -> Result<f64, MetricsError> {
    let (total, n) = pair.sum(|a, b| (a - b) * (a - b))?;
    Ok(10.0 * (data_range * data_range / (total / n as f64)).log10())
}

/// Structural similarity, in `[-1, 1]` (1 for identical images); see the module's notes.
pub fn ssim(pair: ImagePair<'_>, data_range: f64) -> Result<f64, MetricsError> {
    pair.check()?;
    let [c, h, w] = pair.shape;
    let plane = h * w;
    let counted: Vec<usize> = match pair.mask {
        Some(_) => (0..plane).filter(|&i| pair.counts(i)).collect(),
        None => {
            let inner = |n: usize| SSIM_RADIUS..n.saturating_sub(SSIM_RADIUS);
            inner(h)
                .flat_map(|y| inner(w).map(move |x| y * w + x))
                .collect()
        }
    };
    if counted.is_empty() {
        return Err(MetricsError::TooFewSamples {
            metric: "SSIM away from the image border",
            needed: 2 * SSIM_RADIUS + 1,
            got: h.min(w),
        });
    }
    let window = gaussian_window();
    let mut total = 0.0;
    for channel in 0..c {
        let map = ssim_map(
            &pair.output[channel * plane..][..plane],
            &pair.target[channel * plane..][..plane],
            [h, w],
            &window,
            data_range,
        );
        total += counted.iter().map(|&i| map[i]).sum::<f64>() / counted.len() as f64;
    }
    Ok(total / c as f64)
}

/// SSIM's normalised Gaussian weights at offsets `-R..=R`.
fn gaussian_window() -> Vec<f64> {
    let radius = SSIM_RADIUS as f64;
    let raw: Vec<f64> = (0..=2 * SSIM_RADIUS)
        .map(|i| {
            let x = i as f64 - radius;
            (-x * x / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp()
        })
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.into_iter().map(|v| v / sum).collect()
}

/// The SSIM of every pixel of one channel.
fn ssim_map(a: &[f32], b: &[f32], [h, w]: [usize; 2], window: &[f64], range: f64) -> Vec<f64> {
    let blur = |f: &dyn Fn(usize) -> f64| {
        separable_blur(&(0..h * w).map(f).collect::<Vec<_>>(), h, w, window)
    };
    let (x, y) = (|i: usize| a[i] as f64, |i: usize| b[i] as f64);
    let mx = blur(&x);
    let my = blur(&y);
    let mxx = blur(&|i| x(i) * x(i));
    let myy = blur(&|i| y(i) * y(i));
    let mxy = blur(&|i| x(i) * y(i));
    let [c1, c2] = SSIM_K.map(|k| (k * range) * (k * range));
    (0..h * w)
        .map(|i| {
            let (vx, vy) = (mxx[i] - mx[i] * mx[i], myy[i] - my[i] * my[i]);
            let cov = mxy[i] - mx[i] * my[i];
            ((2.0 * mx[i] * my[i] + c1) * (2.0 * cov + c2))
                / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2))
        })
        .collect()
}

/// `values` (`[H, W]`) filtered by `window` along both axes, mirroring the edges as scipy's
/// `mode="reflect"` does (`d c b a | a b c d | d c b a`).
fn separable_blur(values: &[f64], h: usize, w: usize, window: &[f64]) -> Vec<f64> {
    let radius = window.len() / 2;
    let reflect = |i: isize, n: usize| -> usize {
        let period = 2 * n as isize;
        let i = i.rem_euclid(period);
        (if i < n as isize { i } else { period - 1 - i }) as usize
    };
    let mut rows = vec![0.0; h * w];
    for y in 0..h {
        for x in 0..w {
            rows[y * w + x] = window
                .iter()
                .enumerate()
                .map(|(k, wk)| {
                    wk * values[y * w + reflect(x as isize + k as isize - radius as isize, w)]
                })
                .sum();
        }
    }
    let mut out = vec![0.0; h * w];
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] = window
                .iter()
                .enumerate()
                .map(|(k, wk)| {
                    wk * rows[reflect(y as isize + k as isize - radius as isize, h) * w + x]
                })
                .sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two 2 x 16 x 16 images; the expected scores come from scikit-image 0.26
    /// (`structural_similarity`, `peak_signal_noise_ratio`, `data_range=2`).
    fn images() -> (Vec<f32>, Vec<f32>) {
        let output = (0..512).map(|i| (0.37 * i as f64).sin() as f32).collect();
        let target = (0..512)
            .map(|i| {
                let i = i as f64;
                ((0.37 * i + 0.5 * (0.11 * i).cos()).sin() * 0.9) as f32
            })
            .collect();
        (output, target)
    }

    fn hole() -> Vec<bool> {
        (0..256)
            .map(|i| (3..9).contains(&(i / 16)) && (4..12).contains(&(i % 16)))
            .collect()
    }

    fn close(got: f64, expected: f64) {
        assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
    }

    #[test]
    fn agree_with_scikit_image() {
        let (output, target) = images();
        let pair = ImagePair {
            output: &output,
            target: &target,
            shape: [2, 16, 16],
            mask: None,
        };
        close(ssim(pair, 2.0).unwrap(), 0.8464533596453997);
        close(psnr(pair, 2.0).unwrap(), 18.22635416974814);
        close(mean_absolute_error(pair).unwrap(), 0.20478566075900062);
        let mask = hole();
        let inside = ImagePair {
            mask: Some(&mask),
            ..pair
        };
        close(ssim(inside, 2.0).unwrap(), 0.8473433841290947);
        close(psnr(inside, 2.0).unwrap(), 17.938972209262936);
        close(mean_absolute_error(inside).unwrap(), 0.20850177281924212);
    }

    #[test]
    fn identical_images_score_perfectly() {
        let (output, _) = images();
        let pair = ImagePair {
            output: &output,
            target: &output,
            shape: [2, 16, 16],
            mask: None,
        };
        close(ssim(pair, 2.0).unwrap(), 1.0);
        assert_eq!(psnr(pair, 2.0).unwrap(), f64::INFINITY);
        assert_eq!(mean_absolute_error(pair).unwrap(), 0.0);
    }

    #[test]
    fn mismatched_or_empty_input_is_an_error() {
        let (output, target) = images();
        let pair = |shape, mask| ImagePair {
            output: &output,
            target: &target,
            shape,
            mask,
        };
        assert!(psnr(pair([2, 16, 15], None), 2.0).is_err());
        let none = vec![false; 256];
        assert_eq!(
            mean_absolute_error(pair([2, 16, 16], Some(&none))),
            Err(MetricsError::Empty)
        );
        let short = vec![true; 10];
        assert!(ssim(pair([2, 16, 16], Some(&short)), 2.0).is_err());
        // Too small to have pixels away from the border.
        assert!(ssim(pair([8, 8, 8], None), 2.0).is_err());
    }
}
