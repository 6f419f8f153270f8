//! One training iteration (D step + G step, as the reference defines it) and generator
//! inference for the four reference models on every compiled backend that can start.
//!
//! The device is synced inside the timed closure (the last iteration's losses are read
//! back), so asynchronous backends are timed for the work they did, not for queuing it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use burn::prelude::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ganforge_models::{REFERENCE_MODELS, reference};
use ganforge_trainer::bench::reference_gan;
use ganforge_trainer::gan::{noise_rng, normal_noise};

use common::devices;

fn host_batch(n: usize, salt: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + salt * 104_729) % 2000) as f32 / 1000.0 - 1.0)
        .collect()
}

fn training(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_iteration");
    group.sample_size(10).warm_up_time(Duration::from_secs(2));
    for (kind, device) in devices() {
        for model in REFERENCE_MODELS {
            let (arch, batch) = reference(model).unwrap();
            let ad = device.clone().autodiff();
            let [ch, h, w] = arch.sample_shape();
            let latent = arch.latent_dim();
            let reals: Vec<Tensor<4>> = (0..8)
                .map(|s| {
                    Tensor::from_data(
                        TensorData::new(host_batch(batch * ch * h * w, s), [batch, ch, h, w]),
                        &ad,
                    )
                })
                .collect();
            let mut rng = noise_rng(0);
            let mut gan = Some(reference_gan(&arch, &ad).unwrap());
            let mut i = 0usize;
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_function(BenchmarkId::new(model, kind.name()), |b| {
                b.iter(|| {
                    let z = Tensor::<2>::from_data(
                        TensorData::new(normal_noise(&mut rng, batch * latent), [batch, latent]),
                        &ad,
                    );
                    let (next, stats) = gan.take().unwrap().iteration(
                        Vec::new(),
                        reals[i % reals.len()].clone(),
                        z,
                    );
                    gan = Some(next);
                    i += 1;
                    stats.values.into_data()
                })
            });
        }
    }
    group.finish();
}

fn inference(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    for (kind, device) in devices() {
        for model in REFERENCE_MODELS {
            let (arch, _) = reference(model).unwrap();
            let generator = arch.generator(&device, 1).unwrap().valid();
            for batch in [1usize, 64, 1024] {
                let latent = arch.latent_dim();
                let z = Tensor::<2>::from_data(
                    TensorData::new(host_batch(batch * latent, 3), [batch, latent]),
                    &device,
                );
                group.throughput(Throughput::Elements(batch as u64));
                group.bench_function(
                    BenchmarkId::new(format!("{model}/batch{batch}"), kind.name()),
                    |b| {
                        b.iter(|| {
                            let x = generator.forward(z.clone());
                            x.slice([0..1, 0..1, 0..1, 0..1]).into_data()
                        })
                    },
                );
            }
        }
    }
    group.finish();
}

criterion_group!(benches, training, inference);
criterion_main!(benches);
