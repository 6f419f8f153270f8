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
    /// Side of the (square) images.
    pub image_size: usize,
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

/// The inputs of a timed training loop: a pool of real batches and the noise generator on the
/// autodiff device, seeded identically for every benchmark.
struct TrainingBench {
    ad: Device,
    rng: Pcg64Mcg,
    reals: Vec<Tensor<4>>,
    batch: usize,
    latent: usize,
}

impl TrainingBench {
    /// The inputs and the reference GAN for `architecture` at `batch`.
    fn new(
        architecture: &Architecture,
        device: &Device,
        batch: usize,
    ) -> Result<(Self, Gan), crate::TrainError> {
        let ad = device.clone().autodiff();
        let gan = reference_gan(architecture, &ad)?;
        let mut rng = Pcg64Mcg::seed_from_u64(0);
        let [c, h, w] = architecture.sample_shape();
        let reals = (0..REAL_POOL)
            .map(|_| uniform_batch(&mut rng, [batch, c, h, w], &ad))
            .collect();
        let bench = Self {
            ad,
            rng,
            reals,
            batch,
            latent: architecture.latent_dim(),
        };
        Ok((bench, gan))
    }

    /// The real batch of iteration `i`.
    fn real(&self, i: usize) -> Tensor<4> {
        self.reals[i % REAL_POOL].clone()
    }

    /// A fresh noise batch.
    fn noise(&mut self) -> Tensor<2> {
        let n = self.batch * self.latent;
        Tensor::from_data(
            TensorData::new(normal_noise(&mut self.rng, n), [self.batch, self.latent]),
            &self.ad,
        )
    }
}

/// Prints `value` as one JSON line on stdout.
pub fn print_json_line(value: &impl Serialize) {
    println!(
        "{}",
        serde_json::to_string(value).unwrap_or_else(|e| e.to_string())
    );
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
    let (mut bench, mut gan) = TrainingBench::new(architecture, device, batch)?;
    let mut step = |gan: Gan, i: usize| {
        let z = bench.noise();
        gan.iteration(Vec::new(), bench.real(i), z)
    };
    let mut last = None;
    for i in 0..warmup {
        let (next, stats) = step(gan, i);
        gan = next;
        last = Some(stats);
    }
    if let Some(stats) = last.take() {
        let _ = stats.values.into_data();
    }
    let _ = device.sync();
    let start = Instant::now();
    for i in 0..iters {
        let (next, stats) = step(gan, i);
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
        image_size: architecture.sample_shape()[1],
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
        image_size: architecture.sample_shape()[1],
        iters,
        threads: threads(),
        s_per_iter: seconds / iters.max(1) as f64,
        images_per_s: (batch * iters) as f64 / seconds.max(1e-12),
        loss_d: None,
        loss_g: None,
        peak_rss_mb: peak_rss_mb(),
    })
}

/// Training cost against batch size and against image size, for one model on one backend.
pub struct Scaling {
    /// Batch sweep at the model's own image size.
    pub by_batch: Vec<BenchResult>,
    /// Image-size sweep at `batch_for_sizes`.
    pub by_size: Vec<BenchResult>,
}

/// What a scaling sweep times.
pub struct ScalingPlan<'a> {
    /// Reference model name.
    pub model: &'a str,
    /// Its architecture.
    pub architecture: &'a Architecture,
    /// Batch sizes of the batch sweep.
    pub batches: &'a [usize],
    /// Image sizes of the size sweep.
    pub sizes: &'a [usize],
    /// Batch size of the size sweep.
    pub batch_for_sizes: usize,
    /// Untimed iterations per point.
    pub warmup: usize,
    /// Timed iterations per point.
    pub iters: usize,
}

/// Times every point of `plan` on `device`, printing each result as a JSON line.
pub fn scaling(
    plan: &ScalingPlan<'_>,
    backend: BackendKind,
    device: &Device,
) -> Result<Scaling, crate::TrainError> {
    let point = |arch: &Architecture, batch: usize| {
        let result = train(
            plan.model,
            arch,
            backend,
            device,
            batch,
            plan.warmup,
            plan.iters,
        )?;
        print_json_line(&result);
        Ok::<_, crate::TrainError>(result)
    };
    let by_batch = plan
        .batches
        .iter()
        .map(|&b| point(plan.architecture, b))
        .collect::<Result<Vec<_>, _>>()?;
    let by_size = plan
        .sizes
        .iter()
        .map(|&s| {
            point(
                &plan.architecture.clone().with_image_size(s),
                plan.batch_for_sizes,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Scaling { by_batch, by_size })
}

/// Least-squares fit `y = a + b x`: returns `(a, b, r2)`.
pub fn linear_fit(points: &[(f64, f64)]) -> (f64, f64, f64) {
    let n = points.len() as f64;
    if points.len() < 2 {
        return (0.0, 0.0, 1.0);
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let a = my - b * mx;
    let r2 = if syy > 0.0 {
        sxy * sxy / (sxx * syy)
    } else {
        1.0
    };
    (a, b, r2)
}

impl Scaling {
    /// The sweep as a Markdown section: both tables and the linear fits.
    pub fn markdown(&self, model: &str, backend: &str) -> String {
        let mut md = format!("### {model} on {backend}\n\n");
        md.push_str(
            "| batch | image size | s/iter | img/s | ms per image |\n|---|---|---|---|---|\n",
        );
        let row = |r: &BenchResult| {
            format!(
                "| {} | {} | {:.4} | {:.1} | {:.3} |\n",
                r.batch,
                r.image_size,
                r.s_per_iter,
                r.images_per_s,
                1e3 * r.s_per_iter / r.batch as f64
            )
        };
        for r in self.by_batch.iter().chain(&self.by_size) {
            md.push_str(&row(r));
        }
        let batch_points: Vec<(f64, f64)> = self
            .by_batch
            .iter()
            .map(|r| (r.batch as f64, r.s_per_iter))
            .collect();
        let size_points: Vec<(f64, f64)> = self
            .by_size
            .iter()
            .map(|r| ((r.image_size * r.image_size) as f64, r.s_per_iter))
            .collect();
        let (a, b, r2) = linear_fit(&batch_points);
        md.push_str(&format!(
            "\nAgainst batch size: s/iter = {a:.4} + {b:.5} x batch (R² = {r2:.4}).\n"
        ));
        let (a, b, r2) = linear_fit(&size_points);
        md.push_str(&format!(
            "Against pixels per image: s/iter = {a:.4} + {:.4} x (pixels / 1000) (R² = {r2:.4}).\n",
            b * 1e3
        ));
        md
    }

    /// The two sweeps as log-log panels of seconds per iteration.
    pub fn plot(&self, path: &std::path::Path, title: &str) -> Result<(), crate::TrainError> {
        use crate::render::{Panel, log_log_panels};
        let series = |name: &str, rs: &[BenchResult], x: fn(&BenchResult) -> f64| {
            (
                name.to_string(),
                rs.iter().map(|r| (x(r), r.s_per_iter)).collect::<Vec<_>>(),
            )
        };
        let batch_name = self
            .by_batch
            .first()
            .map_or(String::new(), |r| format!("{0}x{0} images", r.image_size));
        let size_name = self
            .by_size
            .first()
            .map_or(String::new(), |r| format!("batch {}", r.batch));
        log_log_panels(
            path,
            title,
            &[
                Panel {
                    x_desc: "batch size".into(),
                    y_desc: "seconds per iteration".into(),
                    series: vec![series(&batch_name, &self.by_batch, |r| r.batch as f64)],
                },
                Panel {
                    x_desc: match (self.by_size.first(), self.by_size.last()) {
                        (Some(a), Some(b)) => {
                            format!("pixels per image ({}² .. {}²)", a.image_size, b.image_size)
                        }
                        _ => "pixels per image".into(),
                    },
                    y_desc: "seconds per iteration".into(),
                    series: vec![series(&size_name, &self.by_size, |r| {
                        (r.image_size * r.image_size) as f64
                    })],
                },
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_fit_recovers_a_line() {
        let (a, b, r2) = linear_fit(&[(1.0, 3.0), (2.0, 5.0), (4.0, 9.0)]);
        assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
        assert!((r2 - 1.0).abs() < 1e-12);
        let (_, _, r2) = linear_fit(&[(1.0, 1.0), (2.0, 4.0), (3.0, 9.0), (4.0, 16.0)]);
        assert!(r2 < 0.99);
    }
}

/// Mean seconds per iteration of each phase of a training iteration.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// Reference model name.
    pub model: String,
    /// Backend name.
    pub backend: String,
    /// Batch size.
    pub batch: usize,
    /// Timed iterations.
    pub iters: usize,
    /// `(phase, seconds per iteration)`, in execution order.
    pub phases: Vec<(&'static str, f64)>,
}

/// Times the phases of [`Gan::iteration`] separately, waiting for the device after each:
/// generator forward, discriminator forward / backward / Adam step, then the generator
/// step's forward through the frozen discriminator, its backward and its Adam step.
/// The sum is a little above a plain iteration's time because of the waits.
pub fn profile(
    model: &str,
    architecture: &Architecture,
    backend: BackendKind,
    device: &Device,
    batch: usize,
    warmup: usize,
    iters: usize,
) -> Result<Profile, crate::TrainError> {
    use burn::optim::GradientsParams;
    const PHASES: [&str; 7] = [
        "G forward",
        "D forward (real + fake)",
        "D backward",
        "D Adam step",
        "D forward (G step)",
        "G backward (through D)",
        "G Adam step",
    ];
    let (mut bench, mut gan) = TrainingBench::new(architecture, device, batch)?;
    let mut totals = [0.0f64; PHASES.len()];
    for i in 0..warmup + iters {
        let mut times = [0.0f64; PHASES.len()];
        let mut clock = Instant::now();
        let mut lap = |phase: usize| {
            let _ = device.sync();
            times[phase] = clock.elapsed().as_secs_f64();
            clock = Instant::now();
        };
        let z = bench.noise();
        let fake = gan.generator.forward(z);
        lap(0);
        let real_logits = gan.discriminator.forward(bench.real(i));
        let fake_logits = gan.discriminator.forward(fake.clone().detach());
        let loss = gan.loss.discriminator(real_logits, fake_logits);
        lap(1);
        let grads = GradientsParams::from_grads(loss.backward(), &gan.discriminator);
        lap(2);
        gan.discriminator =
            gan.discriminator_optimizer
                .step(gan.discriminator_lr, gan.discriminator, grads);
        lap(3);
        let frozen = gan.discriminator.clone().no_grad();
        let loss = gan.loss.generator(frozen.forward(fake));
        lap(4);
        let grads = GradientsParams::from_grads(loss.backward(), &gan.generator);
        lap(5);
        gan.generator = gan
            .generator_optimizer
            .step(gan.generator_lr, gan.generator, grads);
        lap(6);
        if i >= warmup {
            for (total, t) in totals.iter_mut().zip(times) {
                *total += t;
            }
        }
    }
    let n = iters.max(1) as f64;
    Ok(Profile {
        model: model.to_string(),
        backend: backend.name().to_string(),
        batch,
        iters,
        phases: PHASES
            .iter()
            .zip(totals)
            .map(|(p, t)| (*p, t / n))
            .collect(),
    })
}
