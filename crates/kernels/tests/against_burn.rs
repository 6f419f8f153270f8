//! The kernels against burn's own operations. Convolutions: outputs and the gradients of
//! input, weight and bias, on flex with and without autodiff, over the shapes of the reference
//! models and odd ones (asymmetric padding, non-square kernels and strides, output padding).
//! Batch normalisation with its activation, LeakyReLU and tanh: outputs, batch statistics and
//! the gradients of input, scale and shift, in 1-D and 2-D.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use burn::nn::BatchNormConfig;
use burn::prelude::*;
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Tolerance, activation, module};
use ganforge_kernels::{
    avg_pool2d, batch_norm, conv_transpose2d, conv2d, leaky_relu, max_pool2d, tanh,
};

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
    let cases: [Case<ConvOptions<2>>; 8] = [
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
        // Wide enough on both sides, and enough images, for the per-tap method (20 images x
        // 5 positions per row >= 96 rows per tap); odd size, with bias.
        (
            [20, 16, 9, 9],
            [24, 16, 5, 5],
            ConvOptions::new([2, 2], [2, 2], [1, 1], 1),
            Some(24),
        ),
        // Pointwise, computed image by image without patch rows outside autodiff; and
        // pointwise with padding after the image only (its own patch rows).
        (
            [3, 5, 6, 7],
            [4, 5, 1, 1],
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
            Some(4),
        ),
        (
            [2, 3, 4, 5],
            [2, 3, 1, 1],
            ConvOptions::new_with_padding([1, 1], [(0, 1), (0, 2)], [1, 1], 1),
            None,
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

/// Large feature maps (64x64 and 65x65 positions per image), which plain tensors compute
/// image by image: the forward pass (the gradients' long sums over every position are
/// compared on smaller maps above).
#[test]
fn large_maps_match_burn_outside_autodiff() {
    let device = Device::flex();
    let cases = [
        ([2, 16, 64, 64], [16, 16, 3, 3], [1, 1], [1, 1]),
        ([1, 3, 130, 130], [8, 3, 3, 3], [2, 2], [1, 1]),
    ];
    for (x, w, stride, padding) in cases {
        let options = ConvOptions::new(stride, padding, [1, 1], 1);
        let x = fixed_random(x, 1, 1.0, &device);
        let w = fixed_random(w, 2, 0.1, &device);
        let b = fixed_random([w.dims()[0]], 3, 1.0, &device);
        let got = conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
        let want = module::conv2d(x, w, Some(b), options);
        got.into_data()
            .assert_approx_eq::<f32>(&want.into_data(), Tolerance::rel_abs(1e-4, 1e-4));
    }
}

/// Pooling on plain flex tensors: the FID Inception's kinds (3x3 at stride 1 keeping the
/// size, with and without the padding in the average's count; 3x3 at stride 2) and odd ones
/// (asymmetric padding, non-square windows, a stride larger than the window). Under
/// autodiff, burn's operation runs and its gradient is there.
#[test]
fn pooling_matches_burn() {
    let plain = Device::flex();
    let x = fixed_random([2, 3, 9, 8], 4, 1.0, &plain);
    let averages = [
        AvgPoolOptions::new([3, 3])
            .with_stride([1, 1])
            .with_padding([1, 1])
            .with_count_include_pad(false),
        AvgPoolOptions::new([3, 3])
            .with_stride([1, 1])
            .with_padding([1, 1]),
        AvgPoolOptions::new([3, 2])
            .with_stride([2, 1])
            .with_padding_pairs([(1, 0), (0, 1)])
            .with_count_include_pad(false),
        AvgPoolOptions::new([2, 2]).with_stride([3, 3]),
    ];
    for options in averages {
        let got = avg_pool2d(x.clone(), options.clone()).into_data();
        let want = module::avg_pool2d(x.clone(), options.clone()).into_data();
        assert_eq!(got.shape(), want.shape(), "{options:?}");
        got.assert_approx_eq::<f32>(&want, Tolerance::rel_abs(1e-5, 1e-6));
    }
    let maxima = [
        MaxPoolOptions::new([3, 3]).with_stride([2, 2]),
        MaxPoolOptions::new([3, 3])
            .with_stride([1, 1])
            .with_padding([1, 1]),
        MaxPoolOptions::new([2, 3])
            .with_stride([1, 2])
            .with_padding_pairs([(0, 1), (2, 0)]),
    ];
    for options in maxima {
        let got = max_pool2d(x.clone(), options.clone()).into_data();
        let want = module::max_pool2d(x.clone(), options.clone()).into_data();
        assert_eq!(got.shape(), want.shape(), "{options:?}");
        got.assert_eq(&want, true);
    }
    let ad = fixed_random([2, 3, 9, 8], 4, 1.0, &Device::flex().autodiff()).require_grad();
    let options = AvgPoolOptions::new([2, 2]);
    let grad = |pool: &dyn Fn(Tensor<4>) -> Tensor<4>| {
        let grads = pool(ad.clone()).sum().backward();
        ad.grad(&grads)
            .expect("a gradient through pooling")
            .into_data()
    };
    let want = grad(&|x| module::avg_pool2d(x, options.clone()));
    grad(&|x| avg_pool2d(x, options.clone())).assert_eq(&want, true);
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
        // Wide enough, and enough images, for the per-tap method: stride 1, and stride 2 with
        // output padding.
        (
            [14, 24, 7, 7],
            [24, 16, 5, 5],
            ConvTransposeOptions::new([1, 1], [2, 2], [0, 0], [1, 1], 1),
            Some(16),
        ),
        (
            [20, 16, 5, 5],
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

/// A layer from `[B, C, H, W]` to the same shape.
type Layer = dyn Fn(Tensor<4>) -> Tensor<4>;

/// Output and input gradient of `sum(r * f(x))`.
fn output_and_input_grad<const D: usize>(
    x: &Tensor<D>,
    f: impl Fn(Tensor<D>) -> Tensor<D>,
) -> [TensorData; 2] {
    let x = x.clone().require_grad();
    let y = f(x.clone());
    let r = fixed_random(y.dims(), 9, 1.0, &y.device());
    let grads = (y.clone() * r).sum().backward();
    [
        y.into_data(),
        x.grad(&grads).expect("x tracked").into_data(),
    ]
}

fn assert_close(got: &TensorData, want: &TensorData, tolerance: f32, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    got.assert_approx_eq::<f32>(want, Tolerance::absolute(tolerance));
}

/// Our batch norm + activation against burn's `BatchNorm` module and activation.
fn check_batch_norm<const D: usize>(shape: [usize; D], slope: Option<f64>) {
    let device = Device::flex().autodiff();
    let norm = BatchNormConfig::new(shape[1]).init(&device);
    // Scale and shift other than 1 and 0, so that their roles are checked too.
    let norm = burn::nn::BatchNorm {
        gamma: burn::module::Param::from_tensor(
            fixed_random([shape[1]], 21, 0.5, &device).add_scalar(1.0),
        ),
        beta: burn::module::Param::from_tensor(fixed_random([shape[1]], 22, 0.5, &device)),
        ..norm
    };
    let x = fixed_random(shape, 23, 2.0, &device).add_scalar(0.7);
    let act = |y: Tensor<D>| match slope {
        Some(s) => activation::leaky_relu(y, s),
        None => y,
    };
    let r = fixed_random(shape, 24, 1.0, &device);
    let run = |f: &dyn Fn(Tensor<D>) -> Tensor<D>| {
        let x = x.clone().require_grad();
        let y = f(x.clone());
        let grads = (y.clone() * r.clone()).sum().backward();
        [
            y.into_data(),
            x.grad(&grads).expect("x tracked").into_data(),
            norm.gamma.grad(&grads).expect("gamma tracked").into_data(),
            norm.beta.grad(&grads).expect("beta tracked").into_data(),
        ]
    };
    let ours = run(&|x| {
        batch_norm(&x, &norm.gamma.val(), &norm.beta.val(), norm.epsilon, slope)
            .expect("flex f32 tensors")
            .output
    });
    let burns = run(&|x| act(norm.forward(x)));
    let names = ["output", "x grad", "gamma grad", "beta grad"];
    for ((g, w), name) in ours.iter().zip(&burns).zip(names) {
        assert_close(g, w, 2e-4, &format!("{name}, {shape:?}, slope {slope:?}"));
    }
    // The batch statistics, and the plain-flex path.
    let plain = Device::flex();
    let xp = x.clone().inner().to_device(&plain);
    let out = batch_norm(
        &xp,
        &norm.gamma.val().inner().to_device(&plain),
        &norm.beta.val().inner().to_device(&plain),
        norm.epsilon,
        slope,
    )
    .expect("flex f32 tensors");
    assert_close(&out.output.into_data(), &ours[0], 1e-6, "plain flex output");
    let [b, c] = [shape[0], shape[1]];
    let flat: Tensor<3> = xp.reshape([b as i64, c as i64, -1]);
    let mean = flat.clone().mean_dim(2).mean_dim(0);
    let variance = (flat - mean.clone()).square().mean_dim(2).mean_dim(0);
    assert_close(
        &out.mean.into_data(),
        &mean.reshape([c]).into_data(),
        1e-5,
        "mean",
    );
    assert_close(
        &out.variance.into_data(),
        &variance.reshape([c]).into_data(),
        1e-5,
        "variance",
    );
}

#[test]
fn batch_norm_with_its_activation_matches_burn_with_gradients() {
    for slope in [Some(0.2), Some(0.0), None] {
        check_batch_norm([16, 40], slope);
        check_batch_norm([5, 3, 7, 9], slope);
        check_batch_norm([4, 16, 7, 7], slope);
    }
}

#[test]
fn leaky_relu_and_tanh_match_burn_with_gradients() {
    let device = Device::flex().autodiff();
    for shape in [[3, 5, 7, 9], [64, 1, 28, 28]] {
        let x = fixed_random(shape, 31, 3.0, &device);
        let pairs: [(&Layer, &Layer); 3] = [
            (&|x| leaky_relu(&x, 0.2).expect("flex"), &|x| {
                activation::leaky_relu(x, 0.2)
            }),
            (&|x| leaky_relu(&x, 0.0).expect("flex"), &|x| {
                activation::relu(x)
            }),
            (&|x| tanh(&x).expect("flex"), &|x| x.tanh()),
        ];
        for (i, (ours, burns)) in pairs.iter().enumerate() {
            let got = output_and_input_grad(&x, ours);
            let want = output_and_input_grad(&x, burns);
            assert_close(&got[0], &want[0], 1e-6, &format!("output {i}"));
            assert_close(&got[1], &want[1], 1e-5, &format!("input grad {i}"));
        }
        let plain = x.inner();
        let got = tanh(&plain).expect("flex").into_data();
        assert_close(&got, &plain.tanh().into_data(), 1e-6, "plain tanh");
    }
    assert!(leaky_relu(&Tensor::<1>::zeros([2], &device), -0.5).is_none());
}
