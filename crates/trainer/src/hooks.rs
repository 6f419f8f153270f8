//! What the loop does between iterations, one job per hook: metric lines, sample grids,
//! scores, checkpoints. Each hook sees the run after an iteration through a [`Tick`] and decides for
//! itself whether this iteration is one of its own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use ganforge_data::{Dataset, ToyDistribution};

use crate::checkpoint::{self, BestScore, Snapshot, TrainState};
use crate::error::TrainError;
use crate::eval::{EvalSpec, ExtractorSpec, Scorer, lower_is_better};
use crate::events::EventWriter;
use crate::metrics_log::{MetricsLine, MetricsLog};
use crate::objective::{Gan, PairShape, StepStats};
use crate::progress::Progress;
use crate::render;
use crate::sample::{GridInputs, Sampler};
use crate::spec::{RunSpec, SeedStream, derive_seed};

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
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Iterations per line.
    pub every: u64,
    /// The statistics' names.
    pub names: Vec<&'static str>,
    /// Real items per iteration.
    pub items_per_iteration: u64,
    /// Iterations of the whole run.
    pub total: u64,
    /// Whether D(x) and D(G(z)) (the sigmoid of the scores) are probabilities worth watching
    /// for a discriminator that has won; not for a Wasserstein critic, whose scores have no
    /// scale.
    pub watch_discriminator: bool,
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
    /// Iterations timed since `window_start` (a resumed window holds older ones too).
    timed: u64,
    /// The first iteration of the current stretch of logged D(G(z)) below [`D_WON_BELOW`].
    d_won_since: Option<u64>,
    d_won_reported: bool,
    warnings: Vec<String>,
    /// Scores of this iteration's evaluation, for the next line.
    scores: BTreeMap<String, f32>,
}

/// D(G(z)) below this, averaged over a log window, counts as the discriminator winning.
pub const D_WON_BELOW: f32 = 0.01;
/// Iterations of winning before the log reports it.
pub const D_WON_FOR: u64 = 1000;

impl LogHook {
    /// A hook writing to `log` and `progress` as `settings` say; `last_line` is the newest
    /// line already in the log (a resumed run's), `pending` the statistics of the iterations
    /// since it (a checkpoint's [`TrainState::log_window`]), so the next line averages the
    /// same iterations as in an uninterrupted run.
    pub fn new(
        settings: LogSettings,
        log: MetricsLog,
        progress: Progress,
        last_line: Option<MetricsLine>,
        pending: Vec<Tensor<1>>,
    ) -> Self {
        Self {
            settings,
            log,
            progress,
            last_line,
            window: pending,
            window_start: Instant::now(),
            timed: 0,
            d_won_since: None,
            d_won_reported: false,
            warnings: Vec::new(),
            scores: BTreeMap::new(),
        }
    }

    /// Adds `scores` (an evaluation's) to the next line and shows them.
    pub fn add_scores(&mut self, iteration: u64, scores: &BTreeMap<String, f64>) {
        let shown: Vec<String> = scores.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
        self.progress.note(&format!(
            "scores at iteration {iteration}: {}",
            shown.join(", ")
        ));
        self.scores
            .extend(scores.iter().map(|(k, v)| (k.clone(), *v as f32)));
    }

    /// Shows `text` above the progress display and keeps it for the run's summary.
    pub fn warn(&mut self, text: String) {
        self.progress.note(&format!("warning: {text}"));
        self.warnings.push(text);
    }

    /// The warnings raised so far.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Continues with `log` (reopened at an earlier iteration) and the window `pending` of
    /// that iteration.
    pub fn restart(&mut self, log: MetricsLog, pending: Vec<Tensor<1>>) {
        self.log = log;
        self.window = pending;
        self.window_start = Instant::now();
        self.timed = 0;
        self.d_won_since = None;
        self.scores.clear();
    }

    /// The statistics of the iterations since the last line, read back to the host.
    pub fn pending(&self) -> Vec<Vec<f32>> {
        self.window
            .iter()
            .map(|t| {
                t.clone()
                    .into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Reports a discriminator that has won outright: D(G(z)) below [`D_WON_BELOW`] in every
    /// log line for at least [`D_WON_FOR`] iterations.
    fn watch_discriminator(&mut self, line: &MetricsLine) {
        if line.d_fake >= D_WON_BELOW || !line.d_fake.is_finite() {
            self.d_won_since = None;
            self.d_won_reported = false;
            return;
        }
        let window = self.settings.every;
        let since = *self
            .d_won_since
            .get_or_insert(line.iteration.saturating_sub(window));
        if !self.d_won_reported && line.iteration - since >= D_WON_FOR {
            self.d_won_reported = true;
            self.warn(format!(
                "the discriminator has won outright: D(G(z)) < {D_WON_BELOW} from iteration \
                 {since} to {}, so the generator learns little; try the non-saturating or hinge \
                 loss, a lower discriminator learning rate, or more generator steps",
                line.iteration
            ));
        }
    }

    fn line(&mut self, tick: &Tick<'_>) -> Result<MetricsLine, TrainError> {
        let iterations = std::mem::take(&mut self.timed);
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
            return Err(TrainError::Diverged {
                iteration,
                what: format!("loss_d = {loss_d}, loss_g = {loss_g}"),
                last_good: None,
            });
        }
        let seconds = self.window_start.elapsed().as_secs_f64();
        self.window_start = Instant::now();
        let extra = named
            .iter()
            .filter(|(name, _)| !crate::objective::CORE_STATS.contains(&name.as_str()))
            .map(|(name, v)| (name.clone(), *v))
            .chain(std::mem::take(&mut self.scores))
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
        self.timed += 1;
        if tick.due(self.settings.every) {
            let line = self.line(tick)?;
            self.log.append(&line)?;
            self.progress.log(&line, self.settings.total);
            if self.settings.watch_discriminator {
                self.watch_discriminator(&line);
            }
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
#[derive(Debug, Clone)]
pub enum SampleView {
    /// An image grid.
    Images,
    /// A scatter plot over a 2-D mixture's modes.
    Points(ToyDistribution),
    /// Fixed sources translated, each beside its source and its target.
    Pairs(FixedPairs),
}

/// The pairs a translation run's grids show: rows of `source | translation | target`.
#[derive(Debug, Clone)]
pub struct FixedPairs {
    /// Sources `[N, source_channels, H, W]`.
    pub sources: Vec<f32>,
    /// Their targets `[N, C, H, W]`.
    pub targets: Vec<f32>,
    /// How items split into source and target.
    pub shape: PairShape,
}

/// Triples `source | translation | target` per grid row.
const TRIPLES_PER_ROW: usize = 4;

/// The items at `indices` of `values`, items of `size` values each, in that order.
pub(crate) fn pick_items(values: &[f32], size: usize, indices: &[usize]) -> Vec<f32> {
    indices
        .iter()
        .flat_map(|&i| values[i * size..(i + 1) * size].iter().copied())
        .collect()
}

impl FixedPairs {
    /// `count` items spread evenly over a paired dataset (item `k * len / count` for each
    /// `k`, so a folder stored class by class shows every class), split into sources and
    /// targets.
    pub fn spread(
        dataset: &dyn Dataset,
        count: usize,
        shape: PairShape,
    ) -> Result<Self, TrainError> {
        let [c, h, w] = dataset.item_shape();
        let plane = h * w;
        let mut item = vec![0.0; c * plane];
        let (mut sources, mut targets) = (Vec::new(), Vec::new());
        let len = dataset.len();
        for k in 0..count.min(len) {
            dataset.write_item(k * len / count.min(len), &mut item)?;
            let (source, target) = item.split_at(shape.source_channels * plane);
            sources.extend_from_slice(source);
            targets.extend_from_slice(target);
        }
        Ok(Self {
            sources,
            targets,
            shape,
        })
    }

    /// The pairs at `indices` alone, of targets shaped `[C, H, W]`.
    pub fn subset(&self, indices: &[usize], [c, h, w]: [usize; 3]) -> Self {
        Self {
            sources: pick_items(&self.sources, self.shape.source_channels * h * w, indices),
            targets: pick_items(&self.targets, c * h * w, indices),
            shape: self.shape,
        }
    }

    /// The grid of `translations` `[N, C, H, W]` between their sources and targets.
    pub fn grid(&self, translations: &[f32], [c, h, w]: [usize; 3]) -> image::RgbImage {
        let plane = h * w;
        let sources = render::with_channels(&self.sources, self.shape.source_channels, c, plane);
        let mut cells = Vec::with_capacity(3 * translations.len());
        for ((source, output), target) in sources
            .chunks_exact(c * plane)
            .zip(translations.chunks_exact(c * plane))
            .zip(self.targets.chunks_exact(c * plane))
        {
            cells.extend_from_slice(source);
            cells.extend_from_slice(output);
            cells.extend_from_slice(target);
        }
        let n = cells.len() / (c * plane);
        render::sample_rows(&cells, [n, c, h, w], 3 * TRIPLES_PER_ROW)
    }
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

impl SampleHook {
    /// The grid written after iteration `iteration`, if it is one of the hook's (or the
    /// run's `last`).
    pub fn grid_of(&self, iteration: u64, last: bool) -> Option<PathBuf> {
        (last || iteration.is_multiple_of(self.every))
            .then(|| self.dir.join(format!("step-{iteration:08}.png")))
    }
}

impl Hook for SampleHook {
    fn after_iteration(&mut self, tick: &Tick<'_>) -> Result<(), TrainError> {
        if !tick.due(self.every) {
            return Ok(());
        }
        let it = tick.state.iteration;
        let Some(path) = self.grid_of(it, tick.last) else {
            return Ok(());
        };
        let generator = tick.gan.sampling_generator();
        let generate = || {
            self.sampler.generate_from(
                generator,
                &self.device,
                &self.inputs.noise,
                self.inputs.labels.as_deref(),
            )
        };
        match &self.view {
            SampleView::Points(dist) => render::scatter(
                &path,
                &points(&generate()),
                &dist.modes(),
                &format!("{} at iteration {it}", self.name),
            ),
            SampleView::Images => {
                let samples = generate();
                let [c, h, w] = self.sampler.shape();
                let shape = [samples.len() / (c * h * w), c, h, w];
                let grid = render::sample_rows(&samples, shape, self.inputs.columns);
                crate::fsio::write_png(&path, &grid.into())
            }
            SampleView::Pairs(pairs) => {
                let translations = self.sampler.translate_from(
                    generator,
                    &self.device,
                    &pairs.sources,
                    pairs.shape,
                    &self.inputs.noise,
                );
                let grid = pairs.grid(&translations, self.sampler.shape());
                crate::fsio::write_png(&path, &grid.into())
            }
        }
    }
}

/// 2-D points from `[N, 2, 1, 1]` values.
pub fn points(values: &[f32]) -> Vec<[f32; 2]> {
    values.chunks_exact(2).map(|p| [p[0], p[1]]).collect()
}

/// Writes each metrics line as TensorBoard scalars and each sample grid as a TensorBoard
/// image, in the run's event file.
pub struct EventsHook {
    writer: EventWriter,
}

impl EventsHook {
    /// Writes to a new event file in `dir`; `resumed_at` is the iteration a resumed run
    /// continues from.
    pub fn new(dir: &std::path::Path, resumed_at: Option<u64>) -> Result<Self, TrainError> {
        Ok(Self {
            writer: EventWriter::create(dir, resumed_at)?,
        })
    }

    /// Writes `line` if it was logged after `iteration`, and the grid at `grid` if one was
    /// drawn.
    pub fn after_iteration(
        &mut self,
        iteration: u64,
        line: Option<&MetricsLine>,
        grid: Option<PathBuf>,
    ) -> Result<(), TrainError> {
        if let Some(line) = line.filter(|l| l.iteration == iteration) {
            self.writer.line(line)?;
        }
        if let Some(path) = grid.filter(|p| p.is_file()) {
            let png = std::fs::read(&path).map_err(|e| TrainError::write(&path, e))?;
            let size = image::image_dimensions(&path)
                .map_err(|e| TrainError::write(&path, std::io::Error::other(e)))?;
            self.writer
                .image(iteration, "samples", &png, [size.1, size.0])?;
        }
        Ok(())
    }
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
    /// The iteration of the checkpoint this session wrote last.
    pub saved_at: Option<u64>,
}

impl CheckpointHook {
    /// Writes a checkpoint when `tick` is one of the hook's iterations.
    pub fn after_iteration(&mut self, tick: &Tick<'_>, log: &LogHook) -> Result<(), TrainError> {
        if tick.due(self.every) {
            self.save(tick, log)?;
        }
        Ok(())
    }

    /// Writes a checkpoint of `tick` (with `log`'s pending window) unless one of this
    /// iteration exists; refuses (with [`TrainError::Diverged`]) when a loss or a weight is
    /// not finite, so a checkpoint never holds a diverged run.
    pub fn save(&mut self, tick: &Tick<'_>, log: &LogHook) -> Result<(), TrainError> {
        let iteration = tick.state.iteration;
        if self.saved_at == Some(iteration) {
            return Ok(());
        }
        if let Some(what) = non_finite(tick) {
            return Err(TrainError::Diverged {
                iteration,
                what,
                last_good: self.last.clone(),
            });
        }
        let state = TrainState {
            log_window: log.pending(),
            ..tick.state.clone()
        };
        self.last = Some(checkpoint::save(
            &self.dir,
            &self.snapshot(tick, &state),
            self.keep,
        )?);
        self.saved_at = Some(iteration);
        Ok(())
    }

    /// Writes `tick` as the run's best checkpoint (`checkpoints/best`).
    pub fn save_best(&mut self, tick: &Tick<'_>, log: &LogHook) -> Result<PathBuf, TrainError> {
        let state = TrainState {
            log_window: log.pending(),
            ..tick.state.clone()
        };
        checkpoint::save_best(&self.dir, &self.snapshot(tick, &state))
    }

    fn snapshot<'a>(&'a self, tick: &Tick<'a>, state: &'a TrainState) -> Snapshot<'a> {
        Snapshot {
            gan: tick.gan,
            state,
            spec: &self.spec,
            config_text: self.config_text.as_deref(),
        }
    }
}

/// Scores the run's samples every `every` iterations and at its end (`[eval]`), in a dataset
/// classifier's or the FID Inception's features, with the same noise each time, so the scores of two iterations
/// differ only by what the generator learnt.
pub struct EvalHook {
    every: u64,
    scorer: Scorer,
    sampler: Sampler,
    device: Device,
    /// The score that ranks checkpoints.
    best: String,
}

impl EvalHook {
    /// Loads `spec`'s extractor and the reference features for a run of `run`; samples are
    /// drawn on `device`.
    pub fn new(spec: &EvalSpec, run: &RunSpec, device: &Device) -> Result<Self, TrainError> {
        let extractor = spec.extractor_spec();
        if let ExtractorSpec::Classifier(classifier) = &extractor
            && !crate::classify::is_classifier(classifier)
        {
            return Err(TrainError::invalid(
                "eval.classifier",
                classifier.display(),
                "no classifier there: train one for the run's dataset with `ganforge classify \
                 train --dataset NAME --out DIR` (for stacked MNIST, of its digits: `--dataset \
                 mnist`)",
            ));
        }
        let seed = derive_seed(run.seed, SeedStream::Eval);
        let scorer = Scorer::new(&extractor, run, spec.options(seed), device)?;
        let arch = &run.architecture;
        Ok(Self {
            every: spec.every.get(),
            scorer,
            sampler: Sampler::new(arch.latent_dim(), arch.sample_shape()),
            device: device.clone(),
            best: spec.best.clone(),
        })
    }

    /// The scores of `gan`'s samples after `iteration` when it is one of the hook's (or the
    /// run's `last`); none for a generator whose weights are not finite, which the log and
    /// checkpoint hooks report as a divergence.
    pub fn scores(
        &self,
        gan: &Gan,
        iteration: u64,
        last: bool,
    ) -> Result<Option<BTreeMap<String, f64>>, TrainError> {
        let generator = gan.sampling_generator();
        if !(last || iteration.is_multiple_of(self.every)) || !finite_weights(generator) {
            return Ok(None);
        }
        self.scorer
            .score(generator, &self.sampler, &self.device)
            .map(Some)
    }

    /// The new best when `scores` at `iteration` beat `best` (or there is none yet); a
    /// score that is not finite never does.
    pub fn improves(
        &self,
        scores: &BTreeMap<String, f64>,
        iteration: u64,
        best: Option<&BestScore>,
    ) -> Option<BestScore> {
        let value = *scores.get(&self.best)?;
        let better = match best {
            None => true,
            Some(b) if lower_is_better(&self.best) => value < b.value,
            Some(b) => value > b.value,
        };
        (value.is_finite() && better).then(|| BestScore {
            score: self.best.clone(),
            value,
            iteration,
        })
    }

    /// The score that ranks checkpoints.
    pub fn ranking_score(&self) -> &str {
        &self.best
    }
}

/// What is not finite at `tick`: the iteration's statistics or either network's weights.
fn non_finite(tick: &Tick<'_>) -> Option<String> {
    let stats = tick
        .stats
        .values
        .clone()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    if stats.iter().any(|v| !v.is_finite()) {
        return Some(format!("the iteration's statistics are {stats:?}"));
    }
    if !finite_weights(&tick.gan.generator) {
        return Some("the generator's weights are not finite".into());
    }
    if !finite_weights(&tick.gan.discriminator) {
        return Some("the discriminator's weights are not finite".into());
    }
    None
}

/// Whether every float parameter of `module` is finite: one reduction per parameter, read
/// back once.
fn finite_weights<M: burn::module::Module>(module: &M) -> bool {
    struct Magnitudes(Vec<Tensor<1>>);
    impl burn::module::ModuleVisitor for Magnitudes {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            self.0.push(param.val().detach().abs().sum());
        }
    }
    let mut sums = Magnitudes(Vec::new());
    module.visit(&mut sums);
    if sums.0.is_empty() {
        return true;
    }
    Tensor::cat(sums.0, 0)
        .sum()
        .into_scalar::<f32>()
        .is_finite()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::ProgressMode;

    fn hook(dir: &std::path::Path) -> LogHook {
        let settings = LogSettings {
            every: 100,
            names: crate::objective::CORE_STATS.to_vec(),
            items_per_iteration: 1,
            total: 10_000,
            watch_discriminator: true,
        };
        let log = MetricsLog::open(&dir.join("metrics.jsonl"), None).unwrap();
        let progress = Progress::new(ProgressMode::Quiet, 10_000, 0, dir);
        LogHook::new(settings, log, progress, None, Vec::new())
    }

    fn line(iteration: u64, d_fake: f32) -> MetricsLine {
        MetricsLine {
            iteration,
            epoch: 0.0,
            loss_d: 0.1,
            loss_g: 5.0,
            d_real: 0.99,
            d_fake,
            images_per_s: 1.0,
            wall_s: 1.0,
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn a_discriminator_that_wins_for_long_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut hook = hook(dir.path());
        // A short dip is not reported; the stretch restarts when D(G(z)) recovers.
        for (it, d_fake) in [(100, 0.001), (500, 0.001), (600, 0.2)] {
            hook.watch_discriminator(&line(it, d_fake));
        }
        assert!(hook.warnings().is_empty());
        for it in (700..=2000).step_by(100) {
            hook.watch_discriminator(&line(it, 0.005));
        }
        assert_eq!(hook.warnings().len(), 1, "{:?}", hook.warnings());
        assert!(hook.warnings()[0].contains("from iteration 600 to 1600"));
    }
}
