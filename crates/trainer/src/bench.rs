//! Timing of one training iteration and of generator inference, outside criterion, printed
//! as one JSON line shaped like the PyTorch peer's (`torch_gan_bench.py`).

use std::time::Instant;

use burn::prelude::*;
use ganforge_backend::BackendKind;
use ganforge_losses::NonSaturating;
use ganforge_models::Architecture;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use crate::gan::{Gan, adam, normal_noise};
use crate::plan::AdamPlan;

/// Real batches cycled through, so a step does not reuse one cached tensor (as the peer).
const REAL_POOL: usize = 8;

/// One benchmark measurement.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Always `ganforge`.
    pub peer: &'static str,
    /// Reference model name.
    pub model: String,
    /// `train` (one D step + one G step) or `generate` (generator forward only).
    pub mode: &'static str,
    /// Backend name.
    pub backend: String,
    /// Batch size.
    pub batch: usize,
    /// Timed iterations.
    pub iters: usize,
    /// CPU threads available to the flex backend (rayon).
    pub threads: usize,
    /// Seconds per iteration.
    pub s_per_iter: f64,
    /// Real images consumed (train) or generated (generate) per second.
    pub images_per_s: f64,
    /// Last discriminator loss (train).
    pub loss_d: Option<f32>,
    /// Last generator loss (train).
    pub loss_g: Option<f32>,
    /// Peak resident memory of the process in MiB (Linux), the figure to compare on CPUs.
    pub peak_rss_mb: Option<f64>,
}

/// The process's peak resident set size (`VmHWM`) in MiB, where the OS reports it.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn uniform_batch(rng: &mut Pcg64Mcg, shape: [usize; 4], device: &Device) -> Tensor<4> {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A GAN of `architecture` on `ad` (an autodiff device) with the reference optimiser.
pub fn reference_gan(architecture: &Architecture, ad: &Device) -> Result<Gan, crate::TrainError> {
    let adam_plan = AdamPlan {
        lr: 2e-4,
        beta1: 0.5,
        beta2: 0.999,
        epsilon: 1e-8,
    };
    Ok(Gan {
        generator: architecture.generator(ad, 1)?,
        discriminator: architecture.discriminator(ad, 2)?,
        generator_optimizer: adam(&adam_plan),
        discriminator_optimizer: adam(&adam_plan),
        generator_lr: adam_plan.lr,
        discriminator_lr: adam_plan.lr,
        loss: Box::new(NonSaturating),
    })
}

/// Times `iters` training iterations after `warmup` untimed ones.
pub fn train(
    model: &str,
    architecture: &Architecture,
    backend: BackendKind,
    device: &Device,
    batch: usize,
    warmup: usize,
    iters: usize,
) -> Result<BenchResult, crate::TrainError> {
    let ad = device.clone().autodiff();
    let mut gan = reference_gan(architecture, &ad)?;
    let mut rng = Pcg64Mcg::seed_from_u64(0);
    let [c, h, w] = architecture.sample_shape();
    let latent = architecture.latent_dim();
    let reals: Vec<Tensor<4>> = (0..REAL_POOL)
        .map(|_| uniform_batch(&mut rng, [batch, c, h, w], &ad))
        .collect();
    let step = |gan: Gan, i: usize, rng: &mut Pcg64Mcg| {
        let z = Tensor::<2>::from_data(
            TensorData::new(normal_noise(rng, batch * latent), [batch, latent]),
            &ad,
        );
        gan.iteration(Vec::new(), reals[i % REAL_POOL].clone(), z)
    };
    let mut last = None;
    for i in 0..warmup {
        let (next, stats) = step(gan, i, &mut rng);
        gan = next;
        last = Some(stats);
    }
    if let Some(stats) = last.take() {
        let _ = stats.values.into_data();
    }
    let _ = device.sync();
    let start = Instant::now();
    for i in 0..iters {
        let (next, stats) = step(gan, i, &mut rng);
        gan = next;
        last = Some(stats);
    }
    let values = last
        .map(|s| {
            s.values
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let _ = device.sync();
    let seconds = start.elapsed().as_secs_f64();
    let iters_f = iters.max(1) as f64;
    Ok(BenchResult {
        peer: "ganforge",
        model: model.to_string(),
        mode: "train",
        backend: backend.name().to_string(),
        batch,
        iters,
        threads: threads(),
        s_per_iter: seconds / iters_f,
        images_per_s: (batch * iters) as f64 / seconds.max(1e-12),
        loss_d: values.first().copied(),
        loss_g: values.get(1).copied(),
        peak_rss_mb: peak_rss_mb(),
    })
}

/// Times generator-only inference (evaluation mode) at `batch`.
pub fn generate(
    model: &str,
    architecture: &Architecture,
    backend: BackendKind,
    device: &Device,
    batch: usize,
    warmup: usize,
    iters: usize,
) -> Result<BenchResult, crate::TrainError> {
    let generator = architecture.generator(device, 1)?.valid();
    let latent = architecture.latent_dim();
    let mut rng = Pcg64Mcg::seed_from_u64(0);
    let z = Tensor::<2>::from_data(
        TensorData::new(normal_noise(&mut rng, batch * latent), [batch, latent]),
        device,
    );
    for _ in 0..warmup {
        let _ = generator.forward(z.clone());
    }
    let _ = device.sync();
    let start = Instant::now();
    let mut out = None;
    for _ in 0..iters {
        out = Some(generator.forward(z.clone()));
    }
    if let Some(out) = out {
        // Reading one value waits for the last forward on asynchronous backends.
        let _ = out.slice([0..1, 0..1, 0..1, 0..1]).into_data();
    }
    let _ = device.sync();
    let seconds = start.elapsed().as_secs_f64();
    Ok(BenchResult {
        peer: "ganforge",
        model: model.to_string(),
        mode: "generate",
        backend: backend.name().to_string(),
        batch,
        iters,
        threads: threads(),
        s_per_iter: seconds / iters.max(1) as f64,
        images_per_s: (batch * iters) as f64 / seconds.max(1e-12),
        loss_d: None,
        loss_g: None,
        peak_rss_mb: peak_rss_mb(),
    })
}
