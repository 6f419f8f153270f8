//! Reconstruction terms of image-to-image objectives: how far a generated image is from the
//! image it should be, pixel by pixel.

use burn::prelude::*;

/// `mean(|output - target|)` over every value: pix2pix's L1 term, which makes the
/// translation match the target's low frequencies while the adversarial term makes it sharp.
///
/// # Shapes
/// - output, target: `[B, C, H, W]`
/// - result: `[1]`
pub fn l1_distance(output: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    (output - target).abs().mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::device;

    #[test]
    fn mean_absolute_difference() {
        let device = device();
        let a = Tensor::<1>::from_floats([0.0, 1.0, -1.0, 0.5], &device).reshape([1, 1, 2, 2]);
        let b = Tensor::<1>::from_floats([1.0, 1.0, 1.0, 0.0], &device).reshape([1, 1, 2, 2]);
        let value: f32 = l1_distance(a, b).into_scalar();
        assert!((value - (1.0 + 0.0 + 2.0 + 0.5) / 4.0).abs() < 1e-7);
    }
}
