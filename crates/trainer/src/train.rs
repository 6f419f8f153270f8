//! The training loop: one loop for every variant, driven by a [`TrainPlan`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::prelude::*;
use ganforge_data::{BatchLoader, Dataset, LoaderPosition};
use ganforge_metrics::mode_coverage;
use ganforge_models::{Architecture, Generator};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use crate::checkpoint::{self, Snapshot, TrainState};
use crate::error::TrainError;
use crate::fsio::write_atomic;
use crate::gan::{Gan, adam, normal_noise};
use crate::metrics_log::{MetricsLine, MetricsLog, read_lines};
use crate::plan::{SeedStream, TrainPlan, derive_seed};
use crate::progress::{Progress, ProgressMode};
use crate::render;
use crate::run_dir::RunDir;

/// Batches the loader keeps ready.
const PREFETCH: usize = 4;
/// Generated points used to judge a toy run.
const TOY_EVAL_SAMPLES: usize = 2_000;

/// Where a run writes and how it reports.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Parent of new run directories (`runs/`).
    pub runs_root: PathBuf,
    /// An existing run directory to continue.
    pub resume: Option<PathBuf>,
    /// Progress display.
    pub progress: ProgressMode,
}

/// Mode coverage of a toy run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToyScore {
    /// Modes with at least one generated point within 3 standard deviations.
    pub modes_covered: usize,
    /// Number of modes of the mixture.
    pub modes_total: usize,
    /// Fraction of generated points within 3 standard deviations of a mode.
    pub high_quality_fraction: f64,
}

/// What a finished run reports (also written as `summary.json`).
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Iterations completed.
    pub iterations: u64,
    /// Passes over the data completed.
    pub epochs: f64,
    /// Training wall time, seconds (resumed runs included).
    pub seconds: f64,
    /// Wall time per pass over the data, seconds.
    pub seconds_per_epoch: f64,
    /// The last metrics line.
    pub last: Option<MetricsLine>,
    /// Mode coverage, for toy data.
    pub toy: Option<ToyScore>,
    /// The final checkpoint.
    pub checkpoint: PathBuf,
}

/// Sampling helpers bound to one architecture.
pub struct Sampler {
    latent_dim: usize,
    shape: [usize; 3],
}

impl Sampler {
    /// For `architecture`.
    pub fn new(architecture: &Architecture) -> Self {
        Self {
            latent_dim: architecture.latent_dim(),
            shape: architecture.sample_shape(),
        }
    }

    /// Generates `count` samples with the generator in evaluation mode (BatchNorm running
    /// statistics), from noise drawn with `rng`, in chunks. Returns host values `[N, C, H, W]`.
    pub fn generate(
        &self,
        generator: &Generator,
        device: &Device,
        rng: &mut Pcg64Mcg,
        count: usize,
    ) -> Vec<f32> {
        let noise = normal_noise(rng, count * self.latent_dim);
        self.generate_from(generator, device, &noise)
    }

    /// Generates one sample per `latent_dim` values of `noise`.
    pub fn generate_from(&self, generator: &Generator, device: &Device, noise: &[f32]) -> Vec<f32> {
        let eval = generator.valid();
        let count = noise.len() / self.latent_dim;
        let mut out = Vec::with_capacity(count * self.shape.iter().product::<usize>());
        for chunk in noise.chunks(256 * self.latent_dim) {
            let n = chunk.len() / self.latent_dim;
            let z = Tensor::<2>::from_data(
                TensorData::new(chunk.to_vec(), [n, self.latent_dim]),
                device,
            );
            let x = eval.forward(z);
            out.extend(
                x.into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .unwrap_or_default(),
            );
        }
        out
    }

    /// Shape `[C, H, W]` of a sample.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Size of a noise vector.
    pub fn latent_dim(&self) -> usize {
        self.latent_dim
    }
}

fn points(values: &[f32]) -> Vec<[f32; 2]> {
    values.chunks_exact(2).map(|p| [p[0], p[1]]).collect()
}

/// Runs `plan` on `device` (a plain device; autodiff is added here).
pub fn run(
    plan: &TrainPlan,
    device: &Device,
    options: &RunOptions,
) -> Result<RunSummary, TrainError> {
    let ad = device.clone().autodiff();
    let seed = plan.seed;
    let dataset: Arc<dyn Dataset> = plan.data.open(derive_seed(seed, SeedStream::Data))?;
    let item_shape = dataset.item_shape();
    if item_shape != plan.architecture.sample_shape() {
        return Err(crate::error::ConfigError::Invalid {
            key: "model.image_size",
            value: format!("{:?}", plan.architecture.sample_shape()),
            reason: format!("the dataset's items are {item_shape:?}"),
        }
        .into());
    }

    let generator = plan
        .architecture
        .generator(&ad, derive_seed(seed, SeedStream::Generator))?;
    let discriminator = plan
        .architecture
        .discriminator(&ad, derive_seed(seed, SeedStream::Discriminator))?;
    let generator_optimizer = adam(&plan.generator_optimizer);
    let discriminator_optimizer = adam(&plan.discriminator_optimizer);
    let config_toml = plan.config.to_toml()?;

    let (run_dir, restored) = match &options.resume {
        Some(root) => {
            let dir = RunDir::open(root)?;
            let restored = match checkpoint::latest(&dir.checkpoints()) {
                Some(ckpt) => Some(checkpoint::load(
                    &ckpt,
                    generator.clone(),
                    discriminator.clone(),
                    generator_optimizer.clone(),
                    discriminator_optimizer.clone(),
                )?),
                None => None,
            };
            (dir, restored)
        }
        None => (RunDir::create(&options.runs_root, &plan.name)?, None),
    };
    write_atomic(&run_dir.resolved(), config_toml.as_bytes())?;

    let (mut gan, mut state) = match restored {
        Some(r) => (
            Gan {
                generator: r.generator,
                discriminator: r.discriminator,
                generator_optimizer: r.generator_optimizer,
                discriminator_optimizer: r.discriminator_optimizer,
                generator_lr: plan.generator_optimizer.lr,
                discriminator_lr: plan.discriminator_optimizer.lr,
                loss: plan.loss_fn(),
            },
            r.state,
        ),
        None => (
            Gan {
                generator,
                discriminator,
                generator_optimizer,
                discriminator_optimizer,
                generator_lr: plan.generator_optimizer.lr,
                discriminator_lr: plan.discriminator_optimizer.lr,
                loss: plan.loss_fn(),
            },
            TrainState::new(Pcg64Mcg::seed_from_u64(derive_seed(
                seed,
                SeedStream::Noise,
            ))),
        ),
    };
    let resumed_at = options.resume.as_ref().map(|_| state.iteration);

    let mut loader = BatchLoader::new(
        Arc::clone(&dataset),
        plan.batch_size.get(),
        derive_seed(seed, SeedStream::Data),
        LoaderPosition {
            epoch: state.loader_epoch,
            batch: state.loader_batch,
        },
        PREFETCH,
    )?;
    let batches_per_epoch = loader.batches_per_epoch();
    let total = plan.total_iterations(batches_per_epoch);
    let n_critic = plan.n_critic.get();
    let batch = plan.batch_size.get();
    let latent = plan.architecture.latent_dim();
    let sampler = Sampler::new(&plan.architecture);
    let fixed_noise = normal_noise(
        &mut Pcg64Mcg::seed_from_u64(derive_seed(seed, SeedStream::FixedNoise)),
        plan.sample_count.get() * latent,
    );
    let epochs_at = |state: &TrainState| {
        state.loader_epoch as f64 + state.loader_batch as f64 / batches_per_epoch as f64
    };

    let mut metrics = MetricsLog::open(&run_dir.metrics(), resumed_at)?;
    let mut progress = Progress::new(options.progress, total, state.iteration, run_dir.root());
    let mut window: Vec<Tensor<1>> = Vec::new();
    let mut window_start = Instant::now();
    let mut window_iterations = 0u64;
    let session_start = Instant::now();
    let elapsed_before = state.elapsed_s;
    let mut last_line = read_lines(&run_dir.metrics())?.pop();
    let mut last_checkpoint = checkpoint::latest(&run_dir.checkpoints());

    while state.iteration < total {
        let mut batches = Vec::with_capacity(n_critic);
        for _ in 0..n_critic {
            let host = loader.next_batch()?;
            state.loader_epoch = host.next.epoch;
            state.loader_batch = host.next.batch;
            let z = Tensor::<2>::from_data(
                TensorData::new(
                    normal_noise(&mut state.noise_rng, batch * latent),
                    [batch, latent],
                ),
                &ad,
            );
            batches.push((host.into_tensor(&ad), z));
        }
        let Some((real, z)) = batches.pop() else {
            break;
        };
        let (next, stats) = gan.iteration(batches, real, z);
        gan = next;
        window.push(stats.values);
        window_iterations += 1;
        state.iteration += 1;
        let it = state.iteration;
        let done = it == total;

        if it % plan.log_every.get() == 0 || done {
            let values = Tensor::stack::<2>(std::mem::take(&mut window), 0)
                .mean_dim(0)
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            let seconds = window_start.elapsed().as_secs_f64();
            let [loss_d, loss_g, d_real, d_fake] = [values[0], values[1], values[2], values[3]];
            if !(loss_d.is_finite() && loss_g.is_finite()) {
                return Err(TrainError::NonFinite {
                    iteration: it,
                    loss_d,
                    loss_g,
                });
            }
            let line = MetricsLine {
                iteration: it,
                epoch: epochs_at(&state),
                loss_d,
                loss_g,
                d_real,
                d_fake,
                images_per_s: (window_iterations * (n_critic * batch) as u64) as f64
                    / seconds.max(1e-9),
                wall_s: elapsed_before + session_start.elapsed().as_secs_f64(),
            };
            metrics.append(&line)?;
            progress.log(&line, total);
            last_line = Some(line);
            window_start = Instant::now();
            window_iterations = 0;
        }
        progress.tick(it);

        if it % plan.sample_every.get() == 0 || done {
            let samples = sampler.generate_from(&gan.generator, device, &fixed_noise);
            let path = run_dir.samples().join(format!("step-{it:08}.png"));
            match plan.data.toy() {
                Some(dist) => render::scatter(
                    &path,
                    &points(&samples),
                    &dist.modes(),
                    &format!("{} at iteration {it}", plan.name),
                )?,
                None => {
                    let [c, h, w] = sampler.shape();
                    let grid =
                        render::sample_grid(&samples, [samples.len() / (c * h * w), c, h, w]);
                    crate::fsio::write_png(&path, &grid)?;
                }
            }
        }

        if it % plan.checkpoint_every.get() == 0 || done {
            state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
            let snapshot = Snapshot {
                generator: &gan.generator,
                discriminator: &gan.discriminator,
                generator_optimizer: &gan.generator_optimizer,
                discriminator_optimizer: &gan.discriminator_optimizer,
                state: &state,
                config_toml: &config_toml,
            };
            last_checkpoint = Some(checkpoint::save(
                &run_dir.checkpoints(),
                &snapshot,
                plan.keep_checkpoints.get(),
            )?);
        }
    }
    progress.finish();
    state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();

    let history = read_lines(&run_dir.metrics())?;
    if !history.is_empty() {
        render::curves(
            &run_dir.curves(),
            &history,
            &format!("{} ({})", plan.name, plan.backend),
        )?;
    }
    let toy = match plan.data.toy() {
        Some(dist) => {
            let mut rng = Pcg64Mcg::seed_from_u64(derive_seed(seed, SeedStream::FixedNoise) ^ 1);
            let pts = points(&sampler.generate(&gan.generator, device, &mut rng, TOY_EVAL_SAMPLES));
            let modes = dist.modes();
            let score = mode_coverage(&pts, &modes, dist.std(), 3.0, 1);
            render::points_csv(&run_dir.root().join("final-points.csv"), &pts)?;
            Some(ToyScore {
                modes_covered: score.modes_covered,
                modes_total: modes.len(),
                high_quality_fraction: score.high_quality_fraction,
            })
        }
        None => None,
    };
    let epochs = epochs_at(&state);
    let summary = RunSummary {
        run_dir: run_dir.root().to_path_buf(),
        iterations: state.iteration,
        epochs,
        seconds: state.elapsed_s,
        seconds_per_epoch: if epochs > 0.0 {
            state.elapsed_s / epochs
        } else {
            0.0
        },
        last: last_line,
        toy,
        checkpoint: last_checkpoint.unwrap_or_else(|| run_dir.checkpoints()),
    };
    let json = serde_json::to_vec_pretty(&summary)
        .map_err(|e| TrainError::write(run_dir.summary(), std::io::Error::other(e)))?;
    write_atomic(&run_dir.summary(), &json)?;
    Ok(summary)
}

/// Reads the resolved configuration of an existing run directory.
pub fn resolved_config(
    run_dir: &Path,
    overrides: &[String],
) -> Result<crate::config::RawConfig, TrainError> {
    let dir = RunDir::open(run_dir)?;
    Ok(crate::config::RawConfig::load(&dir.resolved(), overrides)?)
}
