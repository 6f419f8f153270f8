//! Forward + backward of single layers at the shapes of the reference models, on each compiled
//! backend's autodiff device: the per-op view of where an iteration's time goes.
//!
//! Each activation and normalisation is timed twice, as burn's module computes it and as
//! `ganforge_models::layers` does (on flex through `ganforge-kernels`, as are the
//! convolutions of `dcgan-mnist`), so the gain of each rewrite stays measured.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use burn::nn::BatchNormConfig;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::prelude::*;
use burn::tensor::{Distribution, activation};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ganforge_models::layers;

use common::devices;

/// Times `layer` forward and backward (input gradient, and parameter gradients where the
/// layer has parameters) on a fixed input of `shape`.
fn forward_backward<const D: usize>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    device: &Device,
    shape: [usize; D],
    layer: impl Fn(Tensor<D>) -> Tensor<D>,
) {
    let x = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), device);
    group.throughput(Throughput::Elements(shape.iter().product::<usize>() as u64));
    group.bench_function(id, |b| {
        b.iter(|| {
            let x = x.clone().require_grad();
            let grads = layer(x.clone()).sum().backward();
            x.grad(&grads).expect("the input is tracked").into_data()
        })
    });
}

fn activations_and_norms(c: &mut Criterion) {
    let mut group = c.benchmark_group("layer_forward_backward");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (kind, device) in devices() {
        let ad = device.autodiff();
        let backend = kind.name();
        // The widest BatchNorm1d + LeakyReLU of dcgan-mnist's generator, and its 2d ones.
        let wide = [64, 12544];
        let maps = [64, 64, 14, 14];
        let id = |name: &str, shape: &str| BenchmarkId::new(format!("{name}/{shape}"), backend);
        forward_backward(
            &mut group,
            id("leaky_relu/burn", "64x12544"),
            &ad,
            wide,
            |x| activation::leaky_relu(x, 0.2),
        );
        forward_backward(
            &mut group,
            id("leaky_relu/ganforge", "64x12544"),
            &ad,
            wide,
            |x| layers::leaky_relu(x, 0.2),
        );
        forward_backward(&mut group, id("tanh/burn", "64x12544"), &ad, wide, |x| {
            x.tanh()
        });
        forward_backward(
            &mut group,
            id("tanh/ganforge", "64x12544"),
            &ad,
            wide,
            layers::tanh,
        );
        let norm1d = BatchNormConfig::new(wide[1]).init(&ad);
        forward_backward(
            &mut group,
            id("batch_norm/burn", "64x12544"),
            &ad,
            wide,
            |x| norm1d.forward(x),
        );
        forward_backward(
            &mut group,
            id("batch_norm/ganforge", "64x12544"),
            &ad,
            wide,
            |x| layers::batch_norm(&norm1d, x),
        );
        forward_backward(
            &mut group,
            id("batch_norm_leaky_relu/burn", "64x12544"),
            &ad,
            wide,
            |x| activation::leaky_relu(norm1d.forward(x), 0.2),
        );
        forward_backward(
            &mut group,
            id("batch_norm_leaky_relu/ganforge", "64x12544"),
            &ad,
            wide,
            |x| layers::batch_norm_leaky_relu(&norm1d, x, 0.2),
        );
        let norm2d = BatchNormConfig::new(maps[1]).init(&ad);
        forward_backward(
            &mut group,
            id("batch_norm/burn", "64x64x14x14"),
            &ad,
            maps,
            |x| norm2d.forward(x),
        );
        forward_backward(
            &mut group,
            id("batch_norm/ganforge", "64x64x14x14"),
            &ad,
            maps,
            |x| layers::batch_norm(&norm2d, x),
        );
        forward_backward(
            &mut group,
            id("batch_norm_leaky_relu/burn", "64x64x14x14"),
            &ad,
            maps,
            |x| activation::leaky_relu(norm2d.forward(x), 0.2),
        );
        forward_backward(
            &mut group,
            id("batch_norm_leaky_relu/ganforge", "64x64x14x14"),
            &ad,
            maps,
            |x| layers::batch_norm_leaky_relu(&norm2d, x, 0.2),
        );
    }
    group.finish();
}

fn convolutions(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv_forward_backward");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (kind, device) in devices() {
        let ad = device.autodiff();
        let backend = kind.name();
        // dcgan-mnist at batch 64: the generator's three transposed convolutions and the
        // discriminator's two convolutions, forward and backward (input and weight gradients).
        let up1 = ConvTranspose2dConfig::new([256, 128], [5, 5])
            .with_padding([2, 2])
            .with_bias(false)
            .init(&ad);
        let up2 = ConvTranspose2dConfig::new([128, 64], [5, 5])
            .with_stride([2, 2])
            .with_padding([2, 2])
            .with_padding_out([1, 1])
            .with_bias(false)
            .init(&ad);
        let up3 = ConvTranspose2dConfig::new([64, 1], [5, 5])
            .with_stride([2, 2])
            .with_padding([2, 2])
            .with_padding_out([1, 1])
            .with_bias(false)
            .init(&ad);
        let down1 = Conv2dConfig::new([1, 64], [5, 5])
            .with_stride([2, 2])
            .with_padding(burn::nn::PaddingConfig2d::Explicit(2, 2, 2, 2))
            .init(&ad);
        let down2 = Conv2dConfig::new([64, 128], [5, 5])
            .with_stride([2, 2])
            .with_padding(burn::nn::PaddingConfig2d::Explicit(2, 2, 2, 2))
            .init(&ad);
        let id = |name: &str, by: &str| BenchmarkId::new(format!("{name}/{by}"), backend);
        let transposed = [
            ("G convT 256->128 7x7", [64, 256, 7, 7], &up1),
            ("G convT 128->64 7->14", [64, 128, 7, 7], &up2),
            ("G convT 64->1 14->28", [64, 64, 14, 14], &up3),
        ];
        for (name, shape, conv) in transposed {
            forward_backward(&mut group, id(name, "burn"), &ad, shape, |x| {
                conv.forward(x)
            });
            forward_backward(&mut group, id(name, "ganforge"), &ad, shape, |x| {
                layers::conv_transpose2d(conv, x)
            });
        }
        let direct = [
            ("D conv 1->64 28->14", [64, 1, 28, 28], &down1),
            ("D conv 64->128 14->7", [64, 64, 14, 14], &down2),
        ];
        for (name, shape, conv) in direct {
            forward_backward(&mut group, id(name, "burn"), &ad, shape, |x| {
                conv.forward(x)
            });
            forward_backward(&mut group, id(name, "ganforge"), &ad, shape, |x| {
                layers::conv2d(conv, x)
            });
        }
    }
    group.finish();
}

criterion_group!(benches, activations_and_norms, convolutions);
criterion_main!(benches);
