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
use ganforge_backend::BackendKind;
use ganforge_models::{Conditioning, ConditioningMethod, REFERENCE_MODELS, reference};
use ganforge_trainer::bench::{TrainingBench, Workload};
use ganforge_trainer::objective::NoClock;

use common::devices;

fn host_batch(n: usize, salt: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + salt * 104_729) % 2000) as f32 / 1000.0 - 1.0)
        .collect()
}

fn workload(model: &str, conditioning: ConditioningMethod, backend: BackendKind) -> Workload {
    let (architecture, batch) = reference(model).unwrap();
    Workload {
        model: model.to_string(),
        architecture,
        conditioning,
        backend,
        batch,
        warmup: 0,
        iters: 0,
        regulariser: None,
    }
}

/// Times the training loop's own iteration of `workload` as `name`.
fn bench_iteration(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: BenchmarkId,
    workload: &Workload,
    device: &Device,
) {
    let mut bench = TrainingBench::new(workload, device).unwrap();
    let mut i = 0usize;
    group.throughput(Throughput::Elements(workload.batch as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            let stats = bench.iteration(i, &mut NoClock).unwrap();
            i += 1;
            stats.values.into_data()
        })
    });
}

fn training(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_iteration");
    group.sample_size(10).warm_up_time(Duration::from_secs(2));
    for (kind, device) in devices() {
        for model in REFERENCE_MODELS {
            let workload = workload(model, ConditioningMethod::None, kind);
            bench_iteration(
                &mut group,
                BenchmarkId::new(model, kind.name()),
                &workload,
                &device,
            );
        }
    }
    group.finish();
}

/// `dcgan-mnist`'s iteration with each class-conditioning method (10 classes).
fn conditioning(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_iteration_conditioned");
    group.sample_size(10).warm_up_time(Duration::from_secs(2));
    for (kind, device) in devices() {
        for (name, method) in [
            ("none", ConditioningMethod::None),
            ("concat", ConditioningMethod::Concat),
            ("projection", ConditioningMethod::Projection),
            ("acgan", ConditioningMethod::Acgan),
        ] {
            let workload = workload("dcgan-mnist", method, kind);
            let id = BenchmarkId::new(format!("dcgan-mnist/{name}"), kind.name());
            bench_iteration(&mut group, id, &workload, &device);
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
            let generator = arch
                .generator(&device, 1, &Conditioning::none())
                .unwrap()
                .valid();
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
                            let x = generator.forward(z.clone(), None);
                            x.slice([0..1, 0..1, 0..1, 0..1]).into_data()
                        })
                    },
                );
            }
        }
    }
    group.finish();
}

criterion_group!(benches, training, conditioning, inference);
criterion_main!(benches);
