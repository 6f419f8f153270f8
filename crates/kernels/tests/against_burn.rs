//! The kernels against burn's own convolutions: outputs and the gradients of input, weight
//! and bias, on flex with and without autodiff, over the shapes of the reference models and
//! odd ones (asymmetric padding, non-square kernels and strides, output padding).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use burn::prelude::*;
use burn::tensor::Tolerance;
use burn::tensor::module;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use ganforge_kernels::{conv_transpose2d, conv2d};

/// Values in `[-scale, scale)` from a fixed sequence: the tests run in parallel, so they do
/// not share the device's random generator.
fn fixed_random<const D: usize>(
    shape: [usize; D],
    seed: u64,
    scale: f32,
    device: &Device,
) -> Tensor<D> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let n = shape.iter().product::<usize>();
    let values: Vec<f32> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Input shape, weight shape, options, bias length.
type Case<O> = ([usize; 4], [usize; 4], O, Option<usize>);

/// Output and gradients (x, weight, bias) of `sum(r * conv(x, w, b))`.
fn run(
    conv: &dyn Fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>,
    x: &Tensor<4>,
    w: &Tensor<4>,
    b: Option<&Tensor<1>>,
    seed: u64,
) -> Vec<TensorData> {
    let (x, w) = (x.clone().require_grad(), w.clone().require_grad());
    let b = b.map(|b| b.clone().require_grad());
    let y = conv(x.clone(), w.clone(), b.clone());
    let r = fixed_random(y.dims(), seed, 1.0, &y.device());
    let grads = (y.clone() * r).sum().backward();
    let mut out = vec![
        y.into_data(),
        x.grad(&grads).expect("x tracked").into_data(),
        w.grad(&grads).expect("w tracked").into_data(),
    ];
    if let Some(b) = b {
        out.push(b.grad(&grads).expect("b tracked").into_data());
    }
    out
}

fn compare(
    ours: &dyn Fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>,
    burns: &dyn Fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>,
    x_shape: [usize; 4],
    w_shape: [usize; 4],
    bias: Option<usize>,
) {
    let device = Device::flex().autodiff();
    let x = fixed_random(x_shape, 1, 1.0, &device);
    let w = fixed_random(w_shape, 2, 0.1, &device);
    let b = bias.map(|n| fixed_random([n], 3, 1.0, &device));
    let got = run(ours, &x, &w, b.as_ref(), 5);
    let want = run(burns, &x, &w, b.as_ref(), 5);
    let names = ["output", "x grad", "weight grad", "bias grad"];
    for ((g, w), name) in got.iter().zip(&want).zip(names) {
        assert_eq!(
            g.shape(),
            w.shape(),
            "{name} shape for x {x_shape:?} w {w_shape:?}"
        );
        g.assert_approx_eq::<f32>(w, Tolerance::rel_abs(1e-4, 1e-4));
    }
    // Without autodiff: the forward alone, on plain flex tensors.
    let plain = Device::flex();
    let (x, w) = (x.to_device(&plain), w.to_device(&plain));
    let b = b.map(|b| b.to_device(&plain));
    ours(x.clone(), w.clone(), b.clone())
        .into_data()
        .assert_approx_eq::<f32>(&burns(x, w, b).into_data(), Tolerance::rel_abs(1e-4, 1e-4));
}

#[test]
fn convolutions_match_burn_with_gradients() {
    let cases: [Case<ConvOptions<2>>; 6] = [
        // dcgan-mnist's discriminator (narrowed), with bias.
        (
            [3, 1, 28, 28],
            [8, 1, 5, 5],
            ConvOptions::new([2, 2], [2, 2], [1, 1], 1),
            Some(8),
        ),
        (
            [3, 8, 14, 14],
            [16, 8, 5, 5],
            ConvOptions::new([2, 2], [2, 2], [1, 1], 1),
            Some(16),
        ),
        // dcgan's last layer: 4x4 to 1x1, no padding, no bias.
        (
            [2, 6, 4, 4],
            [1, 6, 4, 4],
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
            None,
        ),
        // Non-square kernel and stride, asymmetric padding.
        (
            [2, 3, 9, 7],
            [5, 3, 3, 2],
            ConvOptions::new_with_padding([2, 1], [(1, 0), (0, 2)], [1, 1], 1),
            Some(5),
        ),
        // Stride larger than the kernel (positions skipped).
        (
            [2, 2, 8, 8],
            [3, 2, 2, 2],
            ConvOptions::new([3, 3], [0, 0], [1, 1], 1),
            None,
        ),
        // Wide enough on both sides for the per-tap method, odd size, with bias.
        (
            [2, 16, 9, 9],
            [24, 16, 5, 5],
            ConvOptions::new([2, 2], [2, 2], [1, 1], 1),
            Some(24),
        ),
    ];
    for (x, w, options, bias) in cases {
        let (a, b) = (options.clone(), options);
        compare(
            &move |x, w, bias| conv2d(x, w, bias, a.clone()),
            &move |x, w, bias| module::conv2d(x, w, bias, b.clone()),
            x,
            w,
            bias,
        );
    }
}

#[test]
fn transposed_convolutions_match_burn_with_gradients() {
    let cases: [Case<ConvTransposeOptions<2>>; 7] = [
        // dcgan-mnist's generator (narrowed): stride 1, then stride 2 with output padding.
        (
            [3, 16, 7, 7],
            [16, 8, 5, 5],
            ConvTransposeOptions::new([1, 1], [2, 2], [0, 0], [1, 1], 1),
            None,
        ),
        (
            [3, 8, 7, 7],
            [8, 4, 5, 5],
            ConvTransposeOptions::new([2, 2], [2, 2], [1, 1], [1, 1], 1),
            None,
        ),
        // dcgan's first layer: 1x1 noise to 4x4, and an upsampling block.
        (
            [2, 10, 1, 1],
            [10, 6, 4, 4],
            ConvTransposeOptions::new([1, 1], [0, 0], [0, 0], [1, 1], 1),
            None,
        ),
        (
            [2, 6, 4, 4],
            [6, 3, 4, 4],
            ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1),
            Some(3),
        ),
        // Non-square kernel, stride and padding.
        (
            [2, 3, 5, 4],
            [3, 2, 3, 2],
            ConvTransposeOptions::new([2, 3], [1, 0], [1, 2], [1, 1], 1),
            Some(2),
        ),
        // Wide enough for the per-tap method: stride 1, and stride 2 with output padding.
        (
            [2, 24, 7, 7],
            [24, 16, 5, 5],
            ConvTransposeOptions::new([1, 1], [2, 2], [0, 0], [1, 1], 1),
            Some(16),
        ),
        (
            [2, 16, 5, 5],
            [16, 16, 5, 5],
            ConvTransposeOptions::new([2, 2], [2, 2], [1, 1], [1, 1], 1),
            None,
        ),
    ];
    for (x, w, options, bias) in cases {
        let (a, b) = (options.clone(), options);
        compare(
            &move |x, w, bias| conv_transpose2d(x, w, bias, a.clone()),
            &move |x, w, bias| module::conv_transpose2d(x, w, bias, b.clone()),
            x,
            w,
            bias,
        );
    }
}

#[test]
fn what_the_kernels_do_not_cover_goes_to_burn() {
    // Groups and dilation: same results as burn's, through burn.
    let grouped = ConvOptions::new([1, 1], [1, 1], [1, 1], 2);
    let dilated = ConvOptions::new([1, 1], [2, 2], [2, 2], 1);
    let (g2, d2) = (grouped.clone(), dilated.clone());
    compare(
        &move |x, w, b| conv2d(x, w, b, grouped.clone()),
        &move |x, w, b| module::conv2d(x, w, b, g2.clone()),
        [2, 4, 6, 6],
        [4, 2, 3, 3],
        Some(4),
    );
    compare(
        &move |x, w, b| conv2d(x, w, b, dilated.clone()),
        &move |x, w, b| module::conv2d(x, w, b, d2.clone()),
        [2, 3, 8, 8],
        [2, 3, 3, 3],
        None,
    );
}
