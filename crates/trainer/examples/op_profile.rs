use burn::prelude::*;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use std::time::Instant;

fn t<F: FnMut()>(name: &str, mut f: F) {
    for _ in 0..2 {
        f();
    }
    let n = 10;
    let s = Instant::now();
    for _ in 0..n {
        f();
    }
    println!(
        "{name:50} {:8.2} ms",
        s.elapsed().as_secs_f64() * 1000.0 / n as f64
    );
}

fn main() {
    let d = Device::flex();
    let b = 64;
    let x = Tensor::<4>::random([b, 256, 7, 7], burn::tensor::Distribution::Default, &d);
    let w = Tensor::<4>::random([256, 128, 5, 5], burn::tensor::Distribution::Default, &d);
    t("convT 256->128 k5 s1 p2 7x7", || {
        let _ = conv_transpose2d(
            x.clone(),
            w.clone(),
            None,
            ConvTransposeOptions::new([1, 1], [2, 2], [0, 0], [1, 1], 1),
        )
        .into_data();
    });
    let x2 = Tensor::<4>::random([b, 128, 7, 7], burn::tensor::Distribution::Default, &d);
    let w2 = Tensor::<4>::random([128, 64, 5, 5], burn::tensor::Distribution::Default, &d);
    t("convT 128->64 k5 s2 p2 op1 7->14", || {
        let _ = conv_transpose2d(
            x2.clone(),
            w2.clone(),
            None,
            ConvTransposeOptions::new([2, 2], [2, 2], [1, 1], [1, 1], 1),
        )
        .into_data();
    });
    let x3 = Tensor::<4>::random([b, 64, 14, 14], burn::tensor::Distribution::Default, &d);
    let w3 = Tensor::<4>::random([64, 1, 5, 5], burn::tensor::Distribution::Default, &d);
    t("convT 64->1 k5 s2 p2 op1 14->28", || {
        let _ = conv_transpose2d(
            x3.clone(),
            w3.clone(),
            None,
            ConvTransposeOptions::new([2, 2], [2, 2], [1, 1], [1, 1], 1),
        )
        .into_data();
    });
    // D
    let r = Tensor::<4>::random([b, 1, 28, 28], burn::tensor::Distribution::Default, &d);
    let wd1 = Tensor::<4>::random([64, 1, 5, 5], burn::tensor::Distribution::Default, &d);
    t("conv 1->64 k5 s2 p2 28->14", || {
        let _ = conv2d(
            r.clone(),
            wd1.clone(),
            None,
            ConvOptions::new([2, 2], [2, 2], [1, 1], 1),
        )
        .into_data();
    });
    let wd2 = Tensor::<4>::random([128, 64, 5, 5], burn::tensor::Distribution::Default, &d);
    t("conv 64->128 k5 s2 p2 14->7", || {
        let _ = conv2d(
            x3.clone(),
            wd2.clone(),
            None,
            ConvOptions::new([2, 2], [2, 2], [1, 1], 1),
        )
        .into_data();
    });
    // the equivalent conv for convT s1: conv 256->128 k5 p2 at 7x7
    let wc = Tensor::<4>::random([128, 256, 5, 5], burn::tensor::Distribution::Default, &d);
    t("conv 256->128 k5 s1 p2 7x7", || {
        let _ = conv2d(
            x.clone(),
            wc.clone(),
            None,
            ConvOptions::new([1, 1], [2, 2], [1, 1], 1),
        )
        .into_data();
    });
    let a = Tensor::<2>::random([b, 100], burn::tensor::Distribution::Default, &d);
    let wl = Tensor::<2>::random([100, 12544], burn::tensor::Distribution::Default, &d);
    t("matmul 64x100 @ 100x12544", || {
        let _ = a.clone().matmul(wl.clone()).into_data();
    });
    let a2 = Tensor::<2>::random([b, 1024], burn::tensor::Distribution::Default, &d);
    let wl2 = Tensor::<2>::random([1024, 784], burn::tensor::Distribution::Default, &d);
    t("matmul 64x1024 @ 1024x784", || {
        let _ = a2.clone().matmul(wl2.clone()).into_data();
    });
    let big = Tensor::<2>::random([1024, 1024], burn::tensor::Distribution::Default, &d);
    t("matmul 1024^3", || {
        let _ = big.clone().matmul(big.clone()).into_data();
    });
    let p = Tensor::<1>::random([3_300_000], burn::tensor::Distribution::Default, &d);
    t("elementwise mul 3.3M", || {
        let _ = (p.clone() * p.clone()).into_data();
    });
    t("elementwise sqrt+add 3.3M", || {
        let _ = (p.clone().sqrt() + 1e-8).into_data();
    });
}
