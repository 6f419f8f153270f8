//! What the loop does between iterations, one job per hook: metric lines, sample grids,
//! checkpoints. Each hook sees the run after an iteration through a [`Tick`] and decides for
//! itself whether this iteration is one of its own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use ganforge_data::ToyDistribution;

use crate::checkpoint::{self, Snapshot, TrainState};
use crate::error::TrainError;
use crate::metrics_log::{MetricsLine, MetricsLog};
use crate::objective::{Gan, StepStats};
use crate::progress::Progress;
use crate::render;
use crate::sample::{GridInputs, Sampler};
use crate::spec::RunSpec;

/// The run as it stands after one iteration.
pub struct Tick<'a> {
    /// Both networks.
    pub gan: &'a Gan,
    /// Loop state; `state.iteration` is the iteration just completed.
    pub state: &'a TrainState,
    /// That iteration's statistics.
    pub stats: &'a StepStats,
    /// Passes over the data so far.
    pub epochs: f64,
    /// Whether this is the run's last iteration.
    pub last: bool,
}

impl Tick<'_> {
    fn due(&self, every: u64) -> bool {
        self.last || self.state.iteration.is_multiple_of(every)
    }
}

/// Something the loop runs after every iteration.
pub trait Hook {
    /// Acts on `tick` if this iteration is one of the hook's.
    fn after_iteration(&mut self, tick: &Tick<'_>) -> Result<(), TrainError>;
}

/// What a [`LogHook`] writes and how often.
#[derive(Debug, Clone, Copy)]
pub struct LogSettings {
    /// Iterations per line.
    pub every: u64,
    /// The statistics' names.
    pub names: &'static [&'static str],
    /// Real items per iteration.
    pub items_per_iteration: u64,
    /// Iterations of the whole run.
    pub total: u64,
}

/// Averages the statistics over each window of `every` iterations into `metrics.jsonl` and
/// the progress display; stops the run when a loss is not finite.
pub struct LogHook {
    settings: LogSettings,
    log: MetricsLog,
    progress: Progress,
    /// The last line written.
    pub last_line: Option<MetricsLine>,
    window: Vec<Tensor<1>>,
    window_start: Instant,
}

impl LogHook {
    /// A hook writing to `log` and `progress` as `settings` say; `last_line` is the newest
    /// line already in the log (a resumed run's).
    pub fn new(
        settings: LogSettings,
        log: MetricsLog,
        progress: Progress,
        last_line: Option<MetricsLine>,
    ) -> Self {
        Self {
            settings,
            log,
            progress,
            last_line,
            window: Vec::new(),
            window_start: Instant::now(),
        }
    }

    fn line(&mut self, tick: &Tick<'_>) -> Result<MetricsLine, TrainError> {
        let iterations = self.window.len() as u64;
        let values = Tensor::stack::<2>(std::mem::take(&mut self.window), 0)
            .mean_dim(0)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let named: BTreeMap<String, f32> = self
            .settings
            .names
            .iter()
            .zip(&values)
            .map(|(name, v)| (name.to_string(), *v))
            .collect();
        let get = |name: &str| named.get(name).copied().unwrap_or(f32::NAN);
        let (loss_d, loss_g) = (get("loss_d"), get("loss_g"));
        let iteration = tick.state.iteration;
        if !(loss_d.is_finite() && loss_g.is_finite()) {
            return Err(TrainError::NonFinite {
                iteration,
                loss_d,
                loss_g,
            });
        }
        let seconds = self.window_start.elapsed().as_secs_f64();
        self.window_start = Instant::now();
        let extra = named
            .iter()
            .filter(|(name, _)| !crate::objective::CORE_STATS.contains(&name.as_str()))
            .map(|(name, v)| (name.clone(), *v))
            .collect();
        Ok(MetricsLine {
            iteration,
            epoch: tick.epochs,
            loss_d,
            loss_g,
            d_real: get("d_real"),
            d_fake: get("d_fake"),
            images_per_s: (iterations * self.settings.items_per_iteration) as f64
                / seconds.max(1e-9),
            wall_s: tick.state.elapsed_s,
            extra,
        })
    }
}

impl Hook for LogHook {
    fn after_iteration(&mut self, tick: &Tick<'_>) -> Result<(), TrainError> {
        self.window.push(tick.stats.values.clone());
        if tick.due(self.settings.every) {
            let line = self.line(tick)?;
            self.log.append(&line)?;
            self.progress.log(&line, self.settings.total);
            self.last_line = Some(line);
        }
        self.progress.tick(tick.state.iteration);
        if tick.last {
            self.progress.finish();
        }
        Ok(())
    }
}

/// How a run's samples are drawn.
#[derive(Debug, Clone, Copy)]
pub enum SampleView {
    /// An image grid.
    Images,
    /// A scatter plot over a 2-D mixture's modes.
    Points(ToyDistribution),
}

/// Writes `samples/step-NNNNNNNN.png` from fixed noise every `every` iterations.
pub struct SampleHook {
    /// Iterations per grid.
    pub every: u64,
    /// The generator's sampler.
    pub sampler: Sampler,
    /// The fixed noise and labels.
    pub inputs: GridInputs,
    /// The device to sample on.
    pub device: Device,
    /// Where grids go.
    pub dir: PathBuf,
    /// Images or points.
    pub view: SampleView,
    /// Title of scatter plots.
    pub name: String,
}

impl Hook for SampleHook {
    fn after_iteration(&mut self, tick: &Tick<'_>) -> Result<(), TrainError> {
        if !tick.due(self.every) {
            return Ok(());
        }
        let it = tick.state.iteration;
        let samples = self.sampler.generate_from(
            &tick.gan.generator,
            &self.device,
            &self.inputs.noise,
            self.inputs.labels.as_deref(),
        );
        let path = self.dir.join(format!("step-{it:08}.png"));
        match self.view {
            SampleView::Points(dist) => render::scatter(
                &path,
                &points(&samples),
                &dist.modes(),
                &format!("{} at iteration {it}", self.name),
            ),
            SampleView::Images => {
                let [c, h, w] = self.sampler.shape();
                let shape = [samples.len() / (c * h * w), c, h, w];
                let grid = render::sample_rows(&samples, shape, self.inputs.columns);
                crate::fsio::write_png(&path, &grid.into())
            }
        }
    }
}

/// 2-D points from `[N, 2, 1, 1]` values.
pub fn points(values: &[f32]) -> Vec<[f32; 2]> {
    values.chunks_exact(2).map(|p| [p[0], p[1]]).collect()
}

/// Writes a checkpoint every `every` iterations and at the end.
pub struct CheckpointHook {
    /// Iterations per checkpoint.
    pub every: u64,
    /// `checkpoints/` of the run.
    pub dir: PathBuf,
    /// Checkpoints kept.
    pub keep: usize,
    /// What the run is.
    pub spec: RunSpec,
    /// The configuration text the spec was made from, if any.
    pub config_text: Option<String>,
    /// The newest checkpoint written or found.
    pub last: Option<PathBuf>,
}

impl Hook for CheckpointHook {
    fn after_iteration(&mut self, tick: &Tick<'_>) -> Result<(), TrainError> {
        if !tick.due(self.every) {
            return Ok(());
        }
        let snapshot = Snapshot {
            gan: tick.gan,
            state: tick.state,
            spec: &self.spec,
            config_text: self.config_text.as_deref(),
        };
        self.last = Some(checkpoint::save(&self.dir, &snapshot, self.keep)?);
        Ok(())
    }
}
