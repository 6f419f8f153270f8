//! The training loop: one loop for every variant, driven by a [`RunSpec`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::prelude::*;
use ganforge_data::{BatchLoader, Dataset, LoaderPosition, ToyDistribution};
use ganforge_losses::LossKind;
use ganforge_metrics::mode_coverage;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use crate::checkpoint::{self, BestScore, TrainState};
use crate::error::TrainError;
use crate::fsio::write_atomic;
use crate::hooks::{
    CheckpointHook, EvalHook, EventsHook, FixedPairs, Hook, LogHook, LogSettings, SampleHook,
    SampleView, Tick, points,
};
use crate::metrics_log::{MetricsLine, MetricsLog, read_lines};
use crate::objective::{Batch, Gan, NoClock, Objective, StepStats, dropout_masks};
use crate::progress::{Progress, ProgressMode};
use crate::render;
use crate::run_dir::RunDir;
use crate::sample::{GridInputs, Sampler, cycling_labels};
use crate::spec::{OnDivergence, RunSpec, SeedStream, derive_seed};

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
    /// The configuration text the spec was made from, if any: kept in the run directory as
    /// `resolved.toml` and in each checkpoint, for the record and for resuming from the
    /// command line.
    pub config_text: Option<String>,
    /// A flag that, once set (by a signal handler, say), ends the run after the current
    /// iteration with a checkpoint; [`RunSummary::interrupted`] then says so.
    pub stop: Option<Arc<AtomicBool>>,
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
    /// For a conditional run: per class (mode), the fraction of the samples generated for it
    /// that lie within 3 standard deviations of its own mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_hits: Option<Vec<f64>>,
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
    /// Whether the run was stopped through [`RunOptions::stop`] before its end.
    pub interrupted: bool,
    /// Warnings raised during the run (a discriminator that won outright, rollbacks).
    pub warnings: Vec<String>,
    /// The best score of the run's evaluations and its iteration (`checkpoints/best`), when
    /// it scores itself.
    pub best: Option<BestScore>,
}

/// Runs `spec` on `device` (a plain device; autodiff is added here).
pub fn run(
    spec: &RunSpec,
    device: &Device,
    options: &RunOptions,
) -> Result<RunSummary, TrainError> {
    let mut session = Session::start(spec, device, options)?;
    session.train()?;
    session.finish()
}

/// A run in progress: its directory, networks, data and hooks.
struct Session<'a> {
    spec: &'a RunSpec,
    device: Device,
    run_dir: RunDir,
    gan: Option<Gan>,
    objective: Box<dyn Objective>,
    state: TrainState,
    dataset: Arc<dyn Dataset>,
    loader: BatchLoader,
    total: u64,
    stop: Option<Arc<AtomicBool>>,
    interrupted: bool,
    log: LogHook,
    samples: SampleHook,
    eval: Option<EvalHook>,
    events: EventsHook,
    checkpoints: CheckpointHook,
    session_start: Instant,
    elapsed_before: f64,
}

impl<'a> Session<'a> {
    /// Opens the data, builds (or restores) the networks and prepares the hooks.
    fn start(spec: &'a RunSpec, device: &Device, options: &RunOptions) -> Result<Self, TrainError> {
        spec.check()?;
        let ad = device.clone().autodiff();
        let dataset = open_dataset(spec)?;
        let gan = Gan::new(&spec.gan_spec(), &ad, spec.init_seeds())?;
        let (run_dir, gan, state) = match &options.resume {
            Some(root) => {
                let dir = RunDir::open(root)?;
                let (gan, state) = match checkpoint::latest(&dir.checkpoints()) {
                    Some(ckpt) => {
                        check_resumable(&ckpt, spec)?;
                        checkpoint::load(&ckpt, gan)?
                    }
                    None => (gan, fresh_state(spec)),
                };
                (dir, gan, state)
            }
            None => (
                RunDir::create(&options.runs_root, &spec.name)?,
                gan,
                fresh_state(spec),
            ),
        };
        // `spec.json` last: its presence marks a run directory that can be resumed.
        if let Some(text) = &options.config_text {
            write_atomic(&run_dir.resolved(), text.as_bytes())?;
        }
        let spec_json = serde_json::to_vec_pretty(spec)
            .map_err(|e| TrainError::write(run_dir.spec(), std::io::Error::other(e)))?;
        write_atomic(&run_dir.spec(), &spec_json)?;
        let gan = with_lr_scale(gan, spec, state.lr_scale);
        let resumed_at = options.resume.as_ref().map(|_| state.iteration);
        let loader = loader_at(&dataset, spec, &state)?;
        let total = spec.total_iterations(loader.batches_per_epoch());
        let objective = spec.objective();
        let progress = Progress::new(options.progress, total, state.iteration, run_dir.root());
        let settings = LogSettings {
            every: spec.log_every.get(),
            names: objective.stat_names(),
            items_per_iteration: (spec.n_critic.get() * spec.batch_size.get()) as u64,
            total,
            watch_discriminator: spec.loss != LossKind::Wasserstein,
        };
        let log = LogHook::new(
            settings,
            MetricsLog::open(&run_dir.metrics(), resumed_at)?,
            progress,
            read_lines(&run_dir.metrics())?.pop(),
            stats_tensors(&state.log_window, &ad),
        );
        let samples = sample_hook(spec, device, &run_dir, dataset.as_ref())?;
        let events = EventsHook::new(&run_dir.tensorboard(), resumed_at)?;
        let eval = match &spec.eval {
            Some(eval) => Some(EvalHook::new(eval, spec, device)?),
            None => None,
        };
        let checkpoints = CheckpointHook {
            every: spec.checkpoint_every.get(),
            dir: run_dir.checkpoints(),
            keep: spec.keep_checkpoints.get(),
            spec: spec.clone(),
            config_text: options.config_text.clone(),
            last: checkpoint::latest(&run_dir.checkpoints()),
            saved_at: None,
        };
        Ok(Self {
            spec,
            device: ad,
            elapsed_before: state.elapsed_s,
            run_dir,
            gan: Some(gan),
            objective,
            state,
            dataset,
            loader,
            total,
            stop: options.stop.clone(),
            interrupted: false,
            log,
            samples,
            eval,
            events,
            checkpoints,
            session_start: Instant::now(),
        })
    }

    /// Passes over the data so far.
    fn epochs(&self) -> f64 {
        let per_epoch = self.loader.batches_per_epoch() as f64;
        self.state.loader_epoch as f64 + self.state.loader_batch as f64 / per_epoch
    }

    /// The next batch of the loader, with its noise (and labels) drawn.
    /// The batch of discriminator step `step` (counted from 0 over the run).
    fn next_batch(&mut self, step: u64) -> Result<Batch, TrainError> {
        let host = self.loader.next_batch()?;
        self.state.loader_epoch = host.next.epoch;
        self.state.loader_batch = host.next.batch;
        let labels = host.labels.clone();
        let real = host.into_tensor(&self.device);
        let shape = self.objective.batch_shape();
        let mut batch = shape.batch(real, labels, &mut self.state.noise_rng, &self.device);
        batch.step = step;
        Ok(batch)
    }

    /// Iterates until the spec's length (or a stop request), running the hooks after each
    /// iteration; a divergence stops the run or rolls it back as the spec says.
    fn train(&mut self) -> Result<(), TrainError> {
        while self.state.iteration < self.total {
            let n_critic = self.spec.n_critic.get() as u64;
            let first_step = self.state.iteration * n_critic;
            let mut critic = Vec::with_capacity(self.spec.n_critic.get() - 1);
            for k in 0..n_critic - 1 {
                critic.push(self.next_batch(first_step + k)?);
            }
            let batch = self.next_batch(first_step + n_critic - 1)?;
            let Some(gan) = self.gan.take() else {
                break;
            };
            let (mut gan, stats) = self.objective.iteration(gan, critic, batch, &mut NoClock);
            self.state.iteration += 1;
            gan.update_average(self.state.iteration);
            self.state.elapsed_s = self.elapsed_before + self.session_start.elapsed().as_secs_f64();
            let outcome = self.after_iteration(&gan, &stats);
            self.gan = Some(gan);
            match outcome {
                Ok(()) if self.interrupted => break,
                Ok(()) => {}
                Err(TrainError::Diverged {
                    iteration, what, ..
                }) => self.on_divergence(iteration, what)?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Runs the hooks on the iteration just done (scores first, so the log line has them;
    /// the checkpoint hook last), and on a stop request writes a checkpoint and marks the run
    /// interrupted.
    fn after_iteration(&mut self, gan: &Gan, stats: &StepStats) -> Result<(), TrainError> {
        let stop = self.stop.as_ref().is_some_and(|f| f.load(Ordering::SeqCst));
        let last = self.state.iteration == self.total;
        let improved = self.evaluate(gan, last)?;
        let tick = Tick {
            gan,
            state: &self.state,
            stats,
            epochs: self.epochs(),
            last,
        };
        let hooks: [&mut dyn Hook; 2] = [&mut self.log, &mut self.samples];
        for hook in hooks {
            hook.after_iteration(&tick)?;
        }
        let iteration = tick.state.iteration;
        self.events.after_iteration(
            iteration,
            self.log.last_line.as_ref(),
            self.samples.grid_of(iteration, last),
        )?;
        self.checkpoints.after_iteration(&tick, &self.log)?;
        if improved {
            self.checkpoints.save_best(&tick, &self.log)?;
        }
        if stop && !tick.last {
            self.checkpoints.save(&tick, &self.log)?;
            self.interrupted = true;
        }
        Ok(())
    }

    /// Scores the run when this iteration is one of the evaluation hook's, hands the scores
    /// to the log, and records a new best in the loop state; true when there is one (its
    /// checkpoint is written after the iteration's hooks).
    fn evaluate(&mut self, gan: &Gan, last: bool) -> Result<bool, TrainError> {
        let Some(eval) = &self.eval else {
            return Ok(false);
        };
        let iteration = self.state.iteration;
        let Some(scores) = eval.scores(gan, iteration, last)? else {
            return Ok(false);
        };
        self.log.add_scores(iteration, &scores);
        match eval.improves(&scores, iteration, self.state.best.as_ref()) {
            Some(best) => {
                self.state.best = Some(best);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Stops with the last good checkpoint named, or rolls back to it with lower learning
    /// rates while the spec allows.
    fn on_divergence(&mut self, iteration: u64, what: String) -> Result<(), TrainError> {
        let last_good = checkpoint::latest(&self.run_dir.checkpoints());
        let (factor, ckpt) = match (self.spec.on_divergence, last_good) {
            (
                OnDivergence::Rollback {
                    lr_factor,
                    max_rollbacks,
                },
                Some(ckpt),
            ) if self.state.rollbacks < max_rollbacks => (lr_factor, ckpt),
            (_, last_good) => {
                return Err(TrainError::Diverged {
                    iteration,
                    what,
                    last_good,
                });
            }
        };
        let fresh = Gan::new(&self.spec.gan_spec(), &self.device, self.spec.init_seeds())?;
        let (gan, mut state) = checkpoint::load(&ckpt, fresh)?;
        state.lr_scale = self.state.lr_scale * factor;
        state.rollbacks = self.state.rollbacks + 1;
        state.elapsed_s = self.state.elapsed_s;
        self.log.warn(format!(
            "training diverged at iteration {iteration} ({what}); rolled back to {} with the \
             learning rates times {} (rollback {})",
            ckpt.display(),
            state.lr_scale,
            state.rollbacks
        ));
        self.loader = loader_at(&self.dataset, self.spec, &state)?;
        self.log.restart(
            MetricsLog::open(&self.run_dir.metrics(), Some(state.iteration))?,
            stats_tensors(&state.log_window, &self.device),
        );
        self.events = EventsHook::new(&self.run_dir.tensorboard(), Some(state.iteration))?;
        self.gan = Some(with_lr_scale(gan, self.spec, state.lr_scale));
        self.elapsed_before = state.elapsed_s;
        self.session_start = Instant::now();
        self.state = state;
        Ok(())
    }

    /// Draws the curves, scores a toy run and writes `summary.json`.
    fn finish(self) -> Result<RunSummary, TrainError> {
        let history = read_lines(&self.run_dir.metrics())?;
        if !history.is_empty() {
            render::curves(
                &self.run_dir.curves(),
                &history,
                &format!("{} ({})", self.spec.name, self.spec.backend),
                self.eval.as_ref().map(EvalHook::ranking_score),
            )?;
        }
        let toy = match (self.spec.data.toy(), &self.gan) {
            (Some(dist), Some(gan)) if !self.interrupted => Some(score_toy(
                self.spec,
                dist,
                gan,
                &self.samples,
                &self.run_dir,
            )?),
            _ => None,
        };
        let epochs = self.epochs();
        let seconds = self.state.elapsed_s;
        let summary = RunSummary {
            run_dir: self.run_dir.root().to_path_buf(),
            iterations: self.state.iteration,
            epochs,
            seconds,
            seconds_per_epoch: if epochs > 0.0 { seconds / epochs } else { 0.0 },
            toy,
            warnings: self.log.warnings().to_vec(),
            last: self.log.last_line,
            checkpoint: self
                .checkpoints
                .last
                .unwrap_or_else(|| self.run_dir.checkpoints()),
            interrupted: self.interrupted,
            best: self.state.best.clone(),
        };
        let json = serde_json::to_vec_pretty(&summary)
            .map_err(|e| TrainError::write(self.run_dir.summary(), std::io::Error::other(e)))?;
        write_atomic(&self.run_dir.summary(), &json)?;
        Ok(summary)
    }
}

/// The spec's dataset, checked against the networks' sample shape and classes.
fn open_dataset(spec: &RunSpec) -> Result<Arc<dyn Dataset>, TrainError> {
    let dataset: Arc<dyn Dataset> = spec.data.open(derive_seed(spec.seed, SeedStream::Data))?;
    let item_shape = dataset.item_shape();
    if item_shape != spec.architecture.item_shape() {
        return Err(TrainError::Invalid {
            key: "model.image_size",
            value: format!("{:?}", spec.architecture.item_shape()),
            reason: format!("the dataset's items are {item_shape:?}"),
        });
    }
    if spec.conditioning.is_conditional()
        && dataset.class_names().as_deref() != Some(spec.class_names.as_slice())
    {
        return Err(TrainError::Invalid {
            key: "model.conditioning",
            value: format!("{} classes", spec.class_names.len()),
            reason: format!(
                "the dataset's classes changed since the run was planned: {:?}",
                dataset.class_names()
            ),
        });
    }
    Ok(dataset)
}

/// `gan` with both learning rates set to the spec's times `scale`.
fn with_lr_scale(mut gan: Gan, spec: &RunSpec, scale: f64) -> Gan {
    gan.generator_lr = spec.generator_optimizer.lr() * scale;
    gan.discriminator_lr = spec.discriminator_optimizer.lr() * scale;
    gan
}

/// Host statistics (a checkpoint's log window) as device tensors.
fn stats_tensors(window: &[Vec<f32>], device: &Device) -> Vec<Tensor<1>> {
    window
        .iter()
        .map(|values| Tensor::from_floats(values.as_slice(), device))
        .collect()
}

/// A loader that continues from `state`'s data position.
fn loader_at(
    dataset: &Arc<dyn Dataset>,
    spec: &RunSpec,
    state: &TrainState,
) -> Result<BatchLoader, TrainError> {
    Ok(BatchLoader::new(
        Arc::clone(dataset),
        spec.batch_size.get(),
        derive_seed(spec.seed, SeedStream::Data),
        LoaderPosition {
            epoch: state.loader_epoch,
            batch: state.loader_batch,
        },
        PREFETCH,
    )?)
}

/// A run's state at iteration 0.
fn fresh_state(spec: &RunSpec) -> TrainState {
    TrainState::new(Pcg64Mcg::seed_from_u64(derive_seed(
        spec.seed,
        SeedStream::Noise,
    )))
}

/// Pairs shown in a translation run's grids, at most.
const GRID_PAIRS: usize = 16;

/// The grid hook: fixed noise from the spec's seed, one row per class when conditional; for
/// a translation, the dataset's first pairs with fixed dropout masks.
fn sample_hook(
    spec: &RunSpec,
    device: &Device,
    run_dir: &RunDir,
    dataset: &dyn Dataset,
) -> Result<SampleHook, TrainError> {
    let sampler = Sampler::new(
        spec.architecture.latent_dim(),
        spec.architecture.sample_shape(),
    );
    let mut rng = Pcg64Mcg::seed_from_u64(derive_seed(spec.seed, SeedStream::FixedNoise));
    let (latent_dim, count) = (sampler.latent_dim(), spec.sample_count.get());
    let classes = spec.class_names.len();
    let (inputs, view) = match (spec.data.toy(), spec.pair_shape()) {
        // A toy scatter plot shows every class mixed, not rows.
        (Some(dist), _) => (
            GridInputs::mixed(&mut rng, latent_dim, count, classes),
            SampleView::Points(dist),
        ),
        (None, Some(pairs)) => {
            let count = count.min(GRID_PAIRS).min(dataset.len());
            let fixed = FixedPairs::spread(dataset, count, pairs)?;
            let noise = dropout_masks(&mut rng, count * latent_dim, pairs.dropout);
            let inputs = GridInputs {
                noise,
                labels: None,
                columns: count,
            };
            (inputs, SampleView::Pairs(fixed))
        }
        (None, None) => (
            GridInputs::new(&mut rng, latent_dim, count, classes),
            SampleView::Images,
        ),
    };
    Ok(SampleHook {
        every: spec.sample_every.get(),
        sampler,
        inputs,
        device: device.clone(),
        dir: run_dir.samples(),
        view,
        name: spec.name.clone(),
    })
}

/// Mode coverage of a finished toy run, and for a conditional run the fraction of each
/// class's samples near that class's own mode; writes `final-points.csv`.
fn score_toy(
    spec: &RunSpec,
    dist: ToyDistribution,
    gan: &Gan,
    samples: &SampleHook,
    run_dir: &RunDir,
) -> Result<ToyScore, TrainError> {
    let mut rng = Pcg64Mcg::seed_from_u64(derive_seed(spec.seed, SeedStream::FixedNoise) ^ 1);
    let modes = dist.modes();
    let labels = spec
        .conditioning
        .is_conditional()
        .then(|| cycling_labels(TOY_EVAL_SAMPLES, modes.len()));
    let device = &samples.device;
    let values = samples.sampler.generate(
        gan.sampling_generator(),
        device,
        &mut rng,
        TOY_EVAL_SAMPLES,
        labels.as_deref(),
    );
    let pts = points(&values);
    let score = mode_coverage(&pts, &modes, dist.std(), 3.0, 1);
    render::points_csv(&run_dir.root().join("final-points.csv"), &pts)?;
    let class_hits = labels.map(|labels| {
        (0..modes.len())
            .map(|class| {
                let own: Vec<[f32; 2]> = pts
                    .iter()
                    .zip(&labels)
                    .filter(|(_, l)| **l as usize == class)
                    .map(|(p, _)| *p)
                    .collect();
                within(&own, modes[class], 3.0 * dist.std())
            })
            .collect()
    });
    Ok(ToyScore {
        modes_covered: score.modes_covered,
        modes_total: modes.len(),
        high_quality_fraction: score.high_quality_fraction,
        class_hits,
    })
}

/// Fraction of `points` within `radius` of `centre`.
fn within(points: &[[f32; 2]], centre: [f32; 2], radius: f32) -> f64 {
    let near = points
        .iter()
        .filter(|p| (p[0] - centre[0]).hypot(p[1] - centre[1]) <= radius)
        .count();
    near as f64 / points.len().max(1) as f64
}

/// Refuses to resume checkpoint `dir` with a spec whose networks differ from the ones it holds.
fn check_resumable(dir: &Path, spec: &RunSpec) -> Result<(), TrainError> {
    let (saved, asked) = (networks(&checkpoint::spec(dir)?), networks(spec));
    if saved == asked {
        return Ok(());
    }
    Err(TrainError::checkpoint(
        dir,
        format!("was trained with {saved}; this run asks for {asked}"),
    ))
}

/// What of `spec` shapes the networks and optimiser states a checkpoint holds.
fn networks(spec: &RunSpec) -> String {
    format!(
        "{:?} ({:?}, classes {:?}, moving average {}, pack {}, spectral norm {} (generator {}), \
         minibatch std {}, LeCam {}, adaptive augmentation {}, optimisers {}/{})",
        spec.architecture,
        spec.conditioning,
        spec.class_names,
        spec.ema.is_some(),
        spec.pack,
        spec.spectral_norm,
        spec.spectral_norm_g,
        spec.minibatch_std,
        spec.lecam.is_some(),
        spec.adaptive_augment.is_some(),
        spec.generator_optimizer.name(),
        spec.discriminator_optimizer.name(),
    )
}

/// The configuration text saved in run directory `run_dir` (see [`RunOptions::config_text`]).
pub fn saved_config_path(run_dir: &Path) -> Result<PathBuf, TrainError> {
    let path = RunDir::open(run_dir)?.resolved();
    if !path.is_file() {
        return Err(TrainError::checkpoint(
            run_dir,
            "the run was started without a configuration file; resume it with its RunSpec",
        ));
    }
    Ok(path)
}
