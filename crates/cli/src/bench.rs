//! Timing of one training iteration and of generator inference, outside criterion, printed
//! as one JSON line shaped like the PyTorch peer's (`torch_gan_bench.py`); the phase profile
//! and the batch and resolution sweep.

use std::time::Instant;

use burn::prelude::*;
use ganforge_backend::BackendKind;
use ganforge_models::{Architecture, ConditioningMethod};
use ganforge_trainer::TrainError;
use ganforge_trainer::bench::{BENCH_CLASSES, BENCH_SEEDS, TrainingBench, Workload};
use ganforge_trainer::objective::{NoClock, PhaseClock, label_tensor, normal_noise};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

/// One benchmark measurement.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Always `ganforge`.
    pub peer: &'static str,
    /// Reference model name.
    pub model: String,
    /// `train` (one D step + one G step) or `generate` (generator forward only).
    pub mode: &'static str,
    /// The regulariser added to the recipe (`ganforge bench --regulariser`), if any.
    pub regulariser: Option<&'static str>,
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

fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The measurement of `iters` iterations of `workload` in `seconds`.
fn result(workload: &Workload, mode: &'static str, seconds: f64, losses: &[f32]) -> BenchResult {
    BenchResult {
        peer: "ganforge",
        model: workload.model.clone(),
        mode,
        regulariser: workload.regulariser.map(|r| r.name()),
        backend: workload.backend.name().to_string(),
        batch: workload.batch,
        image_size: workload.architecture.sample_shape()[1],
        iters: workload.iters,
        threads: threads(),
        s_per_iter: seconds / workload.iters.max(1) as f64,
        images_per_s: (workload.batch * workload.iters) as f64 / seconds.max(1e-12),
        loss_d: losses.first().copied(),
        loss_g: losses.get(1).copied(),
        peak_rss_mb: peak_rss_mb(),
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
pub fn train(workload: &Workload, device: &Device) -> Result<BenchResult, TrainError> {
    let mut bench = TrainingBench::new(workload, device)?;
    let mut last = None;
    for i in 0..workload.warmup {
        last = bench.iteration(i, &mut NoClock);
    }
    if let Some(stats) = last.take() {
        let _ = stats.values.into_data();
    }
    let _ = device.sync();
    let start = Instant::now();
    for i in 0..workload.iters {
        last = bench.iteration(i, &mut NoClock);
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
    Ok(result(
        workload,
        "train",
        start.elapsed().as_secs_f64(),
        &values,
    ))
}

/// Times generator-only inference (evaluation mode) at the workload's batch size.
pub fn generate(workload: &Workload, device: &Device) -> Result<BenchResult, TrainError> {
    let spec = workload.gan_spec();
    let generator = spec
        .architecture
        .generator(device, BENCH_SEEDS.generator, &spec.conditioning)?
        .valid();
    let (batch, latent) = (workload.batch, workload.architecture.latent_dim());
    let mut rng = Pcg64Mcg::seed_from_u64(0);
    let z = Tensor::<2>::from_data(
        TensorData::new(normal_noise(&mut rng, batch * latent), [batch, latent]),
        device,
    );
    let labels = spec.conditioning.is_conditional().then(|| {
        let classes: Vec<u32> = (0..batch as u32)
            .map(|i| i % BENCH_CLASSES as u32)
            .collect();
        label_tensor(&classes, device)
    });
    for _ in 0..workload.warmup {
        let _ = generator.forward(z.clone(), labels.as_ref());
    }
    let _ = device.sync();
    let start = Instant::now();
    let mut out = None;
    for _ in 0..workload.iters {
        out = Some(generator.forward(z.clone(), labels.as_ref()));
    }
    if let Some(out) = out {
        // Reading one value waits for the last forward on asynchronous backends.
        let _ = out.slice([0..1, 0..1, 0..1, 0..1]).into_data();
    }
    let _ = device.sync();
    Ok(result(
        workload,
        "generate",
        start.elapsed().as_secs_f64(),
        &[],
    ))
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
) -> Result<Scaling, TrainError> {
    let point = |arch: &Architecture, batch: usize| {
        let workload = Workload {
            model: plan.model.to_string(),
            architecture: arch.clone(),
            conditioning: ConditioningMethod::None,
            backend,
            batch,
            warmup: plan.warmup,
            iters: plan.iters,
            regulariser: None,
        };
        let result = train(&workload, device)?;
        print_json_line(&result);
        Ok::<_, TrainError>(result)
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
    pub fn plot(&self, path: &std::path::Path, title: &str) -> Result<(), TrainError> {
        use ganforge_trainer::render::{Panel, log_log_panels};
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

/// Times the phases of a training iteration separately, waiting for the device after each:
/// the very iteration training runs ([`Objective::iteration`]), with a clock that marks
/// each phase's end. The sum is a little above a plain iteration's time because of the waits.
pub fn profile(workload: &Workload, device: &Device) -> Result<Profile, TrainError> {
    let mut bench = TrainingBench::new(workload, device)?;
    let mut clock = Laps {
        device: device.clone(),
        clock: Instant::now(),
        phases: Vec::new(),
    };
    for i in 0..workload.warmup + workload.iters {
        if i == workload.warmup {
            clock.phases.clear();
        }
        clock.clock = Instant::now();
        bench.iteration(i, &mut clock);
    }
    let n = workload.iters.max(1) as f64;
    Ok(Profile {
        model: workload.model.clone(),
        backend: workload.backend.name().to_string(),
        batch: workload.batch,
        iters: workload.iters,
        phases: clock.phases.into_iter().map(|(p, t)| (p, t / n)).collect(),
    })
}

/// A phase clock that waits for the device at each phase's end and sums each phase's time.
struct Laps {
    device: Device,
    clock: Instant,
    /// `(phase, total seconds)` in first-seen order.
    phases: Vec<(&'static str, f64)>,
}

impl PhaseClock for Laps {
    fn lap(&mut self, phase: &'static str) {
        let _ = self.device.sync();
        let seconds = self.clock.elapsed().as_secs_f64();
        match self.phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, total)) => *total += seconds,
            None => self.phases.push((phase, seconds)),
        }
        self.clock = Instant::now();
    }
}
