//! LeakyReLU and tanh over host buffers, forward and backward, each one parallel,
//! vectorised pass. Both backward passes need only the forward's output.

use crate::elementwise::mapped;

/// `max(x, s * x)` for a slope `s >= 0` (0: ReLU).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyRelu {
    /// The slope for negative inputs.
    pub negative_slope: f32,
}

impl LeakyRelu {
    /// The activation with this slope (`>= 0`, so the output has the input's sign).
    pub fn new(negative_slope: f32) -> Self {
        Self { negative_slope }
    }

    /// The activation of `x`.
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        if x < 0.0 { x * self.negative_slope } else { x }
    }

    /// The derivative at the input whose output is `y`: 1 for positive inputs, the slope for
    /// negative ones; at 0, 1 for a LeakyReLU and 0 for a ReLU (as burn's own backward steps).
    #[inline(always)]
    pub fn slope_at(self, y: f32) -> f32 {
        let positive = y > 0.0 || (y == 0.0 && self.negative_slope > 0.0);
        if positive { 1.0 } else { self.negative_slope }
    }

    /// The activation of every element.
    pub fn forward(self, x: &[f32]) -> Vec<f32> {
        mapped([x], move |[x]| self.apply(x))
    }

    /// The input gradient for the output gradient `dy` and the forward's output `y`.
    pub fn backward(self, dy: &[f32], y: &[f32]) -> Vec<f32> {
        mapped([dy, y], move |[dy, y]| dy * self.slope_at(y))
    }
}

/// `tanh` of every element (within 2e-7 of `f32::tanh`, tested).
pub fn tanh_forward(x: &[f32]) -> Vec<f32> {
    mapped([x], |[x]| tanh(x))
}

/// The input gradient of `tanh` for the output gradient `dy` and its output `y`:
/// `dy * (1 - y^2)`.
pub fn tanh_backward(dy: &[f32], y: &[f32]) -> Vec<f32> {
    mapped([dy, y], |[dy, y]| dy * (1.0 - y * y))
}

/// `tanh(x) = sign(x) (1 - e) / (1 + e)` with `e = exp(-2|x|)`; its Taylor series near 0,
/// where that quotient would lose the leading digits. Branch-free, so loops over it vectorise.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let a = x.abs().min(10.0);
    let e = exp(-2.0 * a);
    let t = (1.0 - e) / (1.0 + e);
    let a2 = a * a;
    let small = a * (1.0 - a2 * (1.0 / 3.0 - a2 * (2.0 / 15.0)));
    let t = if a < 0.0625 { small } else { t };
    t.copysign(x)
}

/// `exp(x)` for `x <= 0` (within 2 ulp; Cephes' range reduction and polynomial), without
/// branches or calls.
#[inline(always)]
fn exp(x: f32) -> f32 {
    // n = round(x / ln 2), rounded in the mantissa of 1.5 * 2^23 (as integer arithmetic,
    // which a float-to-integer cast would not vectorise to).
    const SHIFT: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let k = x * std::f32::consts::LOG2_E + SHIFT;
    let n = k - SHIFT;
    // x - n ln 2, with ln 2 split in two so that the first product is exact.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // Times 2^n, built in the exponent bits (n >= -126 here): the low bits of `k` hold n.
    let biased = k.to_bits().wrapping_sub(SHIFT.to_bits()).wrapping_add(127);
    y * f32::from_bits(biased << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f32> {
        (-40_000..=40_000).map(|i| i as f32 * 2.5e-4).collect()
    }

    #[test]
    fn exp_and_tanh_are_within_a_few_ulp() {
        for x in grid() {
            let x = -x.abs() * 8.0;
            let (got, want) = (exp(x), x.exp());
            assert!(
                (got - want).abs() <= 2.5e-7 * want,
                "exp({x}) = {got}, not {want}"
            );
        }
        let xs = grid();
        let ys = tanh_forward(&xs);
        for (x, y) in xs.iter().zip(&ys) {
            assert!(
                (y - x.tanh()).abs() <= 2e-7,
                "tanh({x}) = {y}, not {}",
                x.tanh()
            );
        }
        assert_eq!(
            tanh_forward(&[0.0, -0.0, 50.0, -50.0]),
            [0.0, -0.0, 1.0, -1.0]
        );
    }

    #[test]
    fn backward_passes_use_the_output() {
        let y = [0.5f32, -0.25, 0.0];
        assert_eq!(tanh_backward(&[2.0, 2.0, 2.0], &y), [1.5, 1.875, 2.0]);
        let leaky = LeakyRelu::new(0.2);
        assert_eq!(leaky.forward(&[-2.0, 3.0, 0.0]), [-0.4, 3.0, 0.0]);
        assert_eq!(
            leaky.backward(&[1.0; 3], &[-0.4, 3.0, 0.0]),
            [0.2, 1.0, 1.0]
        );
        let relu = LeakyRelu::new(0.0);
        assert_eq!(relu.forward(&[-2.0, 3.0]), [0.0, 3.0]);
        assert_eq!(relu.backward(&[1.0; 3], &[0.0, 3.0, 0.0]), [0.0, 1.0, 0.0]);
    }
}
