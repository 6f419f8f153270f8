//! `ganforge eval`: scores a checkpoint's samples against real data in the feature space of a
//! dataset classifier (`ganforge classify train`) or of the FID Inception-v3, with the metrics
//! of `ganforge-metrics`.
//!
//! Every score's name ends in its feature extractor (`fid_classifier`, `fid_inception`, never
//! `fid`): a Fréchet distance in a small dataset classifier's features is not the FID that
//! papers report in Inception-v3's, and the two must never be mistaken for each other.

mod extractor;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use burn::prelude::*;
use ganforge_data::{Dataset, Split};
use ganforge_metrics::{
    Features, GaussianStats, KidConfig, MetricsError, ModeCount, count_modes, density_coverage,
    frechet_distance, inception_score, kernel_inception_distance, precision_recall,
};
use ganforge_models::{Classifier, Generator};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

pub use self::extractor::ExtractorSpec;
use self::extractor::{Extractor, Outputs};
use crate::classify::{self, ClassifierInfo, check_compatible, not_conditional};
use crate::error::TrainError;
use crate::generate::{Weights, load_generator, resolve_checkpoint};
use crate::inception::InceptionWeights;
use crate::sample::Sampler;
use crate::spec::{DataSpec, RunSpec};

/// Items generated (and read) at once.
const CHUNK: usize = 500;
/// Neighbours of improved precision and recall (Kynkäänniemi et al. 2019).
const PR_NEIGHBOURS: usize = 3;
/// Neighbours of density and coverage (Naeem et al. 2020).
const DC_NEIGHBOURS: usize = 5;
/// Splits of the Inception Score (Salimans et al. 2016).
const IS_SPLITS: usize = 10;

/// The network whose features the scores are computed in; its name ends every score's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtractorKind {
    /// A dataset classifier's penultimate features.
    #[default]
    Classifier,
    /// The FID Inception-v3's pool3 features.
    Inception,
}

impl ExtractorKind {
    /// `classifier` or `inception`.
    pub fn name(self) -> &'static str {
        match self {
            ExtractorKind::Classifier => "classifier",
            ExtractorKind::Inception => "inception",
        }
    }

    /// Whether it computes `metric`: class accuracy and modes need a dataset classifier's
    /// classes (the ones generated, the digits), which Inception's ImageNet classes are not.
    pub fn computes(self, metric: Metric) -> bool {
        self == ExtractorKind::Classifier
            || !matches!(metric, Metric::ClassAccuracy | Metric::Modes)
    }
}

/// A score `ganforge eval` can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    /// Fréchet distance between Gaussians fitted to the features.
    #[serde(rename = "fid")]
    Fid,
    /// Kernel Inception Distance (mean and standard deviation over subsets).
    #[serde(rename = "kid")]
    Kid,
    /// Improved precision and recall.
    #[serde(rename = "pr")]
    PrecisionRecall,
    /// Density and coverage.
    #[serde(rename = "dc")]
    DensityCoverage,
    /// Inception Score from the extractor's class probabilities (Inception's 1008 classes, or
    /// a dataset classifier's).
    #[serde(rename = "is")]
    InceptionScore,
    /// Fraction of a conditional generator's samples that the classifier labels as the class
    /// they were generated for.
    #[serde(rename = "class-acc")]
    ClassAccuracy,
    /// Modes of stacked data covered by the samples, and the KL divergence of their
    /// distribution over the modes from the uniform one, each channel classified on its own.
    #[serde(rename = "modes")]
    Modes,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 7] = [
        Metric::Fid,
        Metric::Kid,
        Metric::PrecisionRecall,
        Metric::DensityCoverage,
        Metric::InceptionScore,
        Metric::ClassAccuracy,
        Metric::Modes,
    ];

    /// The name `--metrics` takes.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Fid => "fid",
            Metric::Kid => "kid",
            Metric::PrecisionRecall => "pr",
            Metric::DensityCoverage => "dc",
            Metric::InceptionScore => "is",
            Metric::ClassAccuracy => "class-acc",
            Metric::Modes => "modes",
        }
    }

    fn needs_reference(self) -> bool {
        !matches!(
            self,
            Metric::InceptionScore | Metric::ClassAccuracy | Metric::Modes
        )
    }

    /// The scores it reports, before the extractor's name is added; `+std` marks a spread.
    fn raw_scores(self) -> &'static [&'static str] {
        match self {
            Metric::Fid => &["fid"],
            Metric::Kid => &["kid", "kid+std"],
            Metric::PrecisionRecall => &["precision", "recall"],
            Metric::DensityCoverage => &["density", "coverage"],
            Metric::InceptionScore => &["is", "is+std"],
            Metric::ClassAccuracy => &["class_acc"],
            Metric::Modes => &["modes", "modes_kl"],
        }
    }

    /// The names of the scores it reports in `extractor`'s features that can rank
    /// checkpoints (not the spreads), as they appear in reports (`fid_classifier`, ...).
    pub fn ranking_scores(self, extractor: ExtractorKind) -> Vec<String> {
        self.raw_scores()
            .iter()
            .filter(|s| !s.contains('+'))
            .map(|s| score_name(s, extractor))
            .collect()
    }
}

/// Whether a lower value of the score named `score` is better (the distances: FID, KID, the
/// modes' divergence from uniform).
pub fn lower_is_better(score: &str) -> bool {
    ["fid_", "kid_", "modes_kl_"]
        .iter()
        .any(|prefix| score.starts_with(prefix))
}

/// Why `metrics` cannot score generators of `data`, if they cannot: mode counting is for
/// stacked data, whose classifier reads single channels, so it is the only metric there.
pub fn unfit_metrics(metrics: &[Metric], data: &DataSpec) -> Option<String> {
    let counts_modes = metrics.contains(&Metric::Modes);
    match (data.stacked_digits().is_some(), counts_modes) {
        (false, true) => {
            Some("modes counts the modes of stacked data (data.dataset = \"stacked-mnist\")".into())
        }
        (true, _) if metrics.iter().any(|&m| m != Metric::Modes) => Some(
            "stacked data is scored by classifying each channel with a classifier of its \
             digits, which gives modes only"
                .into(),
        ),
        _ => None,
    }
}

/// Scores during training: every `every` iterations (and at the end) the run's samples are
/// scored against its dataset in a classifier's or the FID Inception's features, the scores
/// join that iteration's line of `metrics.jsonl`, and the checkpoint with the best `best`
/// score is kept as `checkpoints/best`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSpec {
    /// Iterations between evaluations; a multiple of the run's `log_every`.
    pub every: std::num::NonZeroU64,
    /// The feature extractor.
    #[serde(default)]
    pub extractor: ExtractorKind,
    /// A classifier directory written by `ganforge classify train` for the run's dataset
    /// (the classifier extractor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<PathBuf>,
    /// The Inception weights (the Inception extractor; by default the published ones,
    /// found by the usual search).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inception_weights: Option<InceptionWeights>,
    /// The scores computed.
    pub metrics: Vec<Metric>,
    /// Samples generated, and reference items drawn, per evaluation.
    pub samples: usize,
    /// The split of the run's dataset the samples are compared with.
    pub reference: Split,
    /// The score that ranks checkpoints (`fid_classifier`, `precision_classifier`, ...).
    pub best: String,
}

impl EvalSpec {
    /// `metrics` in `extractor`'s features with the default count, reference and ranking
    /// score (the first metric's first score), every `every` iterations.
    pub fn new(
        every: std::num::NonZeroU64,
        extractor: ExtractorSpec,
        metrics: Vec<Metric>,
    ) -> Self {
        let kind = extractor.kind();
        let best = Self::default_best(&metrics, kind);
        let (classifier, inception_weights) = match extractor {
            ExtractorSpec::Classifier(path) => (Some(path), None),
            ExtractorSpec::Inception(weights) => (None, Some(weights)),
        };
        Self {
            every,
            extractor: kind,
            classifier,
            inception_weights,
            metrics,
            samples: Self::DEFAULT_SAMPLES,
            reference: Split::Train,
            best,
        }
    }

    /// The ranking score unless one is named: the first metric's first score.
    pub fn default_best(metrics: &[Metric], extractor: ExtractorKind) -> String {
        metrics
            .first()
            .and_then(|m| m.ranking_scores(extractor).into_iter().next())
            .unwrap_or_default()
    }

    /// The extractor to score with: the classifier, or the Inception weights (the
    /// published ones unless others are named).
    pub fn extractor_spec(&self) -> ExtractorSpec {
        match self.extractor {
            ExtractorKind::Classifier => {
                ExtractorSpec::Classifier(self.classifier.clone().unwrap_or_default())
            }
            ExtractorKind::Inception => ExtractorSpec::Inception(
                self.inception_weights
                    .clone()
                    .unwrap_or(InceptionWeights::Published(None)),
            ),
        }
    }

    /// Samples per evaluation unless set.
    pub const DEFAULT_SAMPLES: usize = 5_000;

    /// The options the scorer of a run with master seed `seed` uses.
    pub fn options(&self, seed: u64) -> EvalOptions {
        EvalOptions {
            metrics: self.metrics.clone(),
            samples: self.samples,
            reference: self.reference,
            seed,
            weights: Weights::Averaged,
            kid: KidConfig {
                seed,
                ..KidConfig::default()
            },
        }
    }

    /// Rejects settings that cannot be scored: no metric, too few samples, a ranking score
    /// the metrics do not report, a class score of an unconditional run, an interval that is
    /// not a multiple of `log_every` (the scores join that iteration's metrics line).
    pub fn check(&self, log_every: u64, conditional: bool) -> Result<(), TrainError> {
        if self.metrics.is_empty() {
            return Err(TrainError::invalid(
                "eval.metrics",
                "[]",
                "name at least one metric",
            ));
        }
        if self.samples <= DC_NEIGHBOURS {
            return Err(TrainError::invalid(
                "eval.samples",
                self.samples,
                format!("must be at least {}", DC_NEIGHBOURS + 1),
            ));
        }
        if !self.every.get().is_multiple_of(log_every) {
            return Err(TrainError::invalid(
                "train.eval_every",
                self.every,
                format!(
                    "must be a multiple of train.log_every ({log_every}): the scores join that \
                     iteration's line of metrics.jsonl"
                ),
            ));
        }
        if self.extractor == ExtractorKind::Classifier && self.classifier.is_none() {
            return Err(TrainError::invalid(
                "eval.classifier",
                "(unset)",
                "name the classifier directory whose features score the samples (written by \
                 `ganforge classify train`), or set eval.extractor = \"inception\"",
            ));
        }
        if let Some(metric) = self.metrics.iter().find(|&&m| !self.extractor.computes(m)) {
            return Err(TrainError::invalid(
                "eval.metrics",
                metric.name(),
                "it needs a dataset classifier's classes, which the Inception extractor does \
                 not have; use fid, kid, pr, dc or is",
            ));
        }
        if self.metrics.contains(&Metric::ClassAccuracy) && !conditional {
            return Err(TrainError::invalid(
                "eval.metrics",
                "class-acc",
                "the run's generator is not class-conditional, so it has no class to score",
            ));
        }
        let ranking: Vec<String> = self
            .metrics
            .iter()
            .flat_map(|m| m.ranking_scores(self.extractor))
            .collect();
        if !ranking.contains(&self.best) {
            return Err(TrainError::invalid(
                "eval.best",
                &self.best,
                format!("not a score of eval.metrics; valid: {}", ranking.join(", ")),
            ));
        }
        Ok(())
    }
}

impl FromStr for Metric {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| TrainError::Invalid {
                key: "--metrics",
                value: s.to_string(),
                reason: format!(
                    "not a metric; valid: {}",
                    Metric::ALL.map(Metric::name).join(", ")
                ),
            })
    }
}

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// The scores to compute.
    pub metrics: Vec<Metric>,
    /// Samples generated, and real items drawn from the reference split (all of it if
    /// smaller).
    pub samples: usize,
    /// The split of the run's dataset that the samples are compared with.
    pub reference: Split,
    /// Seed of the noise, the generated classes' order and the reference draw.
    pub seed: u64,
    /// The generator weights to sample.
    pub weights: Weights,
    /// How KID draws its subsets.
    pub kid: KidConfig,
}

/// The scores of one checkpoint, with what they were computed from.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The checkpoint scored.
    pub checkpoint: PathBuf,
    /// Generator weights sampled: `averaged` (EMA) or `trained`.
    pub weights: &'static str,
    /// The feature extractor: `classifier` or `inception`.
    pub extractor: ExtractorKind,
    /// Its weights: the classifier directory, or the Inception weight file.
    pub extractor_path: PathBuf,
    /// The Inception weight file's SHA-256 (with the Inception extractor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inception_sha256: Option<String>,
    /// The dataset, as the classifier names it.
    pub dataset: String,
    /// `train` or `test`.
    pub reference_split: &'static str,
    /// Real items compared with.
    pub reference_items: usize,
    /// Whether their features came from the cache beside the classifier.
    pub reference_cached: bool,
    /// Samples generated.
    pub samples: usize,
    /// Each score by name (`fid_classifier`, `kid_classifier`, `kid_classifier_std`, ...).
    pub scores: BTreeMap<String, f64>,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Scores `options.samples` samples of the checkpoint at `checkpoint` against the run's
/// dataset, in the features of `extractor`.
pub fn evaluate(
    checkpoint: &Path,
    extractor: &ExtractorSpec,
    options: &EvalOptions,
    device: &Device,
) -> Result<EvalReport, TrainError> {
    let start = Instant::now();
    check_options(options)?;
    check_extractor(extractor.kind(), &options.metrics)?;
    let extractor = Extractor::load(extractor, device)?;
    let dir = resolve_checkpoint(checkpoint)?;
    let loaded = load_generator(&dir, device, options.weights)?.for_sampling(&dir)?;
    if options.metrics.contains(&Metric::ClassAccuracy) && loaded.class_names.is_empty() {
        return Err(not_conditional(&dir));
    }
    let scorer = Scorer::with_extractor(extractor, &loaded.spec, options.clone(), device)?;
    let scores = scorer.score(&loaded.generator, &loaded.sampler, device)?;
    Ok(EvalReport {
        checkpoint: dir,
        weights: match options.weights {
            Weights::Averaged if loaded.spec.ema.is_some() => "averaged",
            _ => "trained",
        },
        extractor: scorer.extractor.kind(),
        extractor_path: scorer.extractor.path().to_path_buf(),
        inception_sha256: match &scorer.extractor {
            Extractor::Inception(loaded) => Some(loaded.sha256.clone()),
            Extractor::Classifier { .. } => None,
        },
        dataset: scorer.dataset.clone(),
        reference_split: split_name(options.reference),
        reference_items: scorer.reference.as_ref().map_or(0, |r| r.features.rows()),
        reference_cached: scorer.reference.as_ref().is_some_and(|r| r.cached),
        samples: options.samples,
        scores,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// A feature extractor and the features of the reference items, ready to score any
/// generator of a run's samples: `evaluate` builds one per checkpoint, a training run one for
/// all its evaluations, so the reference is extracted (or read from the cache) once.
pub struct Scorer {
    extractor: Extractor,
    /// The dataset's name.
    dataset: String,
    options: EvalOptions,
    reference: Option<Reference>,
    /// Classes of the generator scored (0 when unconditional).
    classes: usize,
    /// Where the digits lie in each channel, for stacked data.
    stacked: Option<StackedView>,
}

/// The reference items' features and whether they came from the cache.
struct Reference {
    features: Features,
    cached: bool,
}

impl Scorer {
    /// Loads `extractor`, checks that it reads the samples of `spec`'s generator, and
    /// extracts the reference features `options.metrics` need from `spec`'s dataset.
    pub fn new(
        extractor: &ExtractorSpec,
        spec: &RunSpec,
        options: EvalOptions,
        device: &Device,
    ) -> Result<Self, TrainError> {
        check_options(&options)?;
        check_extractor(extractor.kind(), &options.metrics)?;
        Self::with_extractor(Extractor::load(extractor, device)?, spec, options, device)
    }

    /// As [`Scorer::new`], with a loaded extractor.
    fn with_extractor(
        extractor: Extractor,
        spec: &RunSpec,
        options: EvalOptions,
        device: &Device,
    ) -> Result<Self, TrainError> {
        if let Some(reason) = unfit_metrics(&options.metrics, &spec.data) {
            return Err(TrainError::invalid(
                "--metrics",
                metric_names(&options.metrics),
                reason,
            ));
        }
        let shape = spec.architecture.sample_shape();
        let stacked = match (extractor.classifier(), spec.data.stacked_digits()) {
            (Some((_, info, path)), Some((digits, offset))) => {
                Some(StackedView::new(path, info, digits, offset)?)
            }
            (Some((_, info, path)), None) => {
                check_compatible(path, info, &spec.class_names, shape)?;
                None
            }
            (None, _) => {
                check_inception_input(shape)?;
                None
            }
        };
        let dataset = classify::dataset_name(&spec.data);
        let reference = if options.metrics.iter().any(|m| m.needs_reference()) {
            Some(reference_features(
                &extractor, &dataset, &spec.data, &options, device,
            )?)
        } else {
            None
        };
        Ok(Self {
            extractor,
            dataset,
            options,
            reference,
            classes: spec.class_names.len(),
            stacked,
        })
    }

    /// The scores of `options.samples` samples of `generator` (every class equally often
    /// when it is conditional), each named after the extractor (`fid_classifier`, ...).
    pub fn score(
        &self,
        generator: &Generator,
        sampler: &Sampler,
        device: &Device,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let options = &self.options;
        let kind = self.extractor.kind();
        if let (Some(view), Some((model, ..))) = (&self.stacked, self.extractor.classifier()) {
            let modes = view.count_modes(model, generator, sampler, options, device)?;
            return Ok(BTreeMap::from([
                (score_name("modes", kind), modes.covered as f64),
                (score_name("modes_kl", kind), modes.kl_to_uniform),
            ]));
        }
        let fake = fake_outputs(
            &self.extractor,
            generator,
            sampler,
            self.classes,
            options,
            device,
        )?;
        let mut scores = BTreeMap::new();
        let mut put = |name: &str, value: f64| {
            scores.insert(score_name(name, kind), value);
        };
        if let Some(reference) = &self.reference {
            score_against_reference(
                &options.metrics,
                &options.kid,
                &reference.features,
                &fake.features,
                &mut put,
            )?;
        }
        if let (true, Some(probabilities)) = (
            options.metrics.contains(&Metric::InceptionScore),
            &fake.probabilities,
        ) {
            let is = inception_score(probabilities, IS_SPLITS).map_err(metric_error)?;
            put("is", is.mean);
            put("is+std", is.std);
        }
        if let (true, Some(labels)) = (
            options.metrics.contains(&Metric::ClassAccuracy),
            &fake.labels,
        ) {
            let hits = labels.iter().zip(&fake.predicted).filter(|(a, b)| a == b);
            put("class_acc", hits.count() as f64 / labels.len() as f64);
        }
        Ok(scores)
    }
}

/// Refuses metrics that `kind` cannot compute.
fn check_extractor(kind: ExtractorKind, metrics: &[Metric]) -> Result<(), TrainError> {
    match metrics.iter().find(|&&m| !kind.computes(m)) {
        Some(metric) => Err(TrainError::invalid(
            "--metrics",
            metric.name(),
            format!(
                "it needs a dataset classifier's classes, which the {} extractor does not \
                 have; use --extractor classifier",
                kind.name()
            ),
        )),
        None => Ok(()),
    }
}

/// Refuses samples the Inception network cannot read: it sees grey or RGB pictures.
fn check_inception_input([channels, ..]: [usize; 3]) -> Result<(), TrainError> {
    if channels == 1 || channels == 3 {
        return Ok(());
    }
    Err(TrainError::invalid(
        "--extractor",
        "inception",
        format!(
            "the Inception network reads grey or RGB pictures; the samples have {channels} channels"
        ),
    ))
}

fn check_options(options: &EvalOptions) -> Result<(), TrainError> {
    if options.metrics.is_empty() {
        return Err(TrainError::Invalid {
            key: "--metrics",
            value: String::new(),
            reason: "name at least one metric".into(),
        });
    }
    // Each set needs more samples than the neighbours counted and two for a covariance.
    let least = DC_NEIGHBOURS + 1;
    if options.samples < least {
        return Err(TrainError::Invalid {
            key: "--n",
            value: options.samples.to_string(),
            reason: format!("must be at least {least}"),
        });
    }
    Ok(())
}

/// The reference-based scores of `fake` against `real`.
fn score_against_reference(
    metrics: &[Metric],
    kid: &KidConfig,
    real: &Features,
    fake: &Features,
    put: &mut impl FnMut(&str, f64),
) -> Result<(), TrainError> {
    for metric in metrics {
        match metric {
            Metric::Fid => {
                let (a, b) = (GaussianStats::of(real), GaussianStats::of(fake));
                let fid = frechet_distance(&a.map_err(metric_error)?, &b.map_err(metric_error)?);
                put("fid", fid.map_err(metric_error)?);
            }
            Metric::Kid => {
                let kid = kernel_inception_distance(real, fake, kid).map_err(metric_error)?;
                put("kid", kid.mean);
                put("kid+std", kid.std);
            }
            Metric::PrecisionRecall => {
                let pr = precision_recall(real, fake, PR_NEIGHBOURS).map_err(metric_error)?;
                put("precision", pr.precision);
                put("recall", pr.recall);
            }
            Metric::DensityCoverage => {
                let dc = density_coverage(real, fake, DC_NEIGHBOURS).map_err(metric_error)?;
                put("density", dc.density);
                put("coverage", dc.coverage);
            }
            Metric::InceptionScore | Metric::ClassAccuracy | Metric::Modes => {}
        }
    }
    Ok(())
}

fn metric_names(metrics: &[Metric]) -> String {
    metrics
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(",")
}

/// Where the digits of stacked data lie in each channel of a sample, for a classifier of the
/// digits.
struct StackedView {
    /// `[H, W]` of a digit.
    digit: [usize; 2],
    /// The digit's top left corner in a channel.
    offset: [usize; 2],
    /// Classes of a digit.
    classes: usize,
}

impl StackedView {
    /// Checks that the classifier at `path` reads `digits`: their shape and classes.
    fn new(
        path: &Path,
        info: &ClassifierInfo,
        digits: &DataSpec,
        offset: [usize; 2],
    ) -> Result<Self, TrainError> {
        let names = digits.class_names()?.unwrap_or_default();
        check_compatible(path, info, &names, digits.item_shape())?;
        let [_, h, w] = digits.item_shape();
        Ok(Self {
            digit: [h, w],
            offset,
            classes: info.class_names.len(),
        })
    }

    /// Generates `options.samples` samples, classifies the digit in each channel and counts
    /// the triples (modes) they make.
    fn count_modes(
        &self,
        model: &Classifier,
        generator: &Generator,
        sampler: &Sampler,
        options: &EvalOptions,
        device: &Device,
    ) -> Result<ModeCount, TrainError> {
        let mut rng = Pcg64Mcg::seed_from_u64(options.seed);
        let [channels, ..] = sampler.shape();
        let mut modes = Vec::with_capacity(options.samples);
        let mut done = 0;
        while done < options.samples {
            let n = CHUNK.min(options.samples - done);
            let values = sampler.generate(generator, device, &mut rng, n, None);
            let digits = self.crop(&values, sampler.shape());
            let [h, w] = self.digit;
            let predicted = classify::predict(model, &digits, [1, h, w], device);
            modes.extend(stacked_modes(&predicted, channels, self.classes));
            done += n;
        }
        count_modes(&modes, self.classes.pow(channels as u32)).map_err(metric_error)
    }

    /// The digit of each channel of `[N, C, H, W]` samples, as `[N * C, 1, h, w]`.
    fn crop(&self, values: &[f32], [c, h, w]: [usize; 3]) -> Vec<f32> {
        let ([dh, dw], [oy, ox]) = (self.digit, self.offset);
        let mut out = Vec::with_capacity(values.len() / (h * w) * dh * dw);
        debug_assert_eq!(values.len() % (c * h * w), 0);
        for plane in values.chunks_exact(h * w) {
            for row in plane.chunks_exact(w).skip(oy).take(dh) {
                out.extend_from_slice(&row[ox..ox + dw]);
            }
        }
        out
    }
}

/// The mode of each stacked item from the classes of its `channels` channels in order (`c0 *
/// k^2 + c1 * k + c2` for `k` classes and three channels, as stacked data labels its items).
fn stacked_modes(classes: &[u32], channels: usize, k: usize) -> impl Iterator<Item = u32> + '_ {
    classes
        .chunks_exact(channels)
        .map(move |item| item.iter().fold(0, |mode, &c| mode * k as u32 + c))
}

/// Whether the metrics-line entry `name` is a score (`fid_classifier`,
/// `kid_classifier_std`), not a statistic of the training step.
pub fn is_score(name: &str) -> bool {
    [ExtractorKind::Classifier, ExtractorKind::Inception]
        .iter()
        .any(|kind| name.contains(&format!("_{}", kind.name())))
}

/// `fid` -> `fid_classifier`; `kid+std` (a spread) -> `kid_classifier_std`.
fn score_name(name: &str, extractor: ExtractorKind) -> String {
    let extractor = extractor.name();
    match name.split_once('+') {
        Some((metric, statistic)) => format!("{metric}_{extractor}_{statistic}"),
        None => format!("{name}_{extractor}"),
    }
}

fn metric_error(e: MetricsError) -> TrainError {
    TrainError::Invalid {
        key: "--metrics",
        value: String::new(),
        reason: e.to_string(),
    }
}

fn split_name(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Test => "test",
    }
}

/// Features of the reference items and whether they came from the cache.
fn reference_features(
    extractor: &Extractor,
    dataset: &str,
    data: &DataSpec,
    options: &EvalOptions,
    device: &Device,
) -> Result<Reference, TrainError> {
    let items = reference_data(data, options.reference)?;
    let cache = extractor.reference_cache(dataset, items.item_shape(), options)?;
    if let Some(features) = cache.as_ref().and_then(|c| c.load(items.len())) {
        return Ok(Reference {
            features,
            cached: true,
        });
    }
    let features = extract_reference(extractor, items.as_ref(), options, device)?;
    if let Some(cache) = &cache {
        cache.store(&features);
    }
    Ok(Reference {
        features,
        cached: false,
    })
}

/// The split `split` of the dataset `data`.
fn reference_data(data: &DataSpec, split: Split) -> Result<classify::Shared, TrainError> {
    let (train, test) = classify::splits(data)?;
    Ok(match split {
        Split::Train => train,
        Split::Test => test,
    })
}

/// What the classifier makes of the generated samples.
struct FakeOutputs {
    features: Features,
    /// Class probabilities (a classifier's).
    probabilities: Option<Features>,
    predicted: Vec<u32>,
    /// The class each sample was generated for (conditional generators).
    labels: Option<Vec<u32>>,
}

fn fake_outputs(
    extractor: &Extractor,
    generator: &Generator,
    sampler: &Sampler,
    classes: usize,
    options: &EvalOptions,
    device: &Device,
) -> Result<FakeOutputs, TrainError> {
    let mut rng = Pcg64Mcg::seed_from_u64(options.seed);
    // Every class equally often, as the data's classes are (near enough) balanced.
    let labels = (classes > 0).then(|| {
        (0..options.samples)
            .map(|i| (i % classes) as u32)
            .collect::<Vec<_>>()
    });
    let mut outputs = Outputs::default();
    let mut done = 0;
    while done < options.samples {
        let n = CHUNK.min(options.samples - done);
        let chunk_labels = labels.as_ref().map(|l| &l[done..done + n]);
        let values = sampler.generate(generator, device, &mut rng, n, chunk_labels);
        extractor.push(&mut outputs, values, sampler.shape(), device);
        done += n;
    }
    let probabilities = Some(outputs.probabilities(extractor.classes())?);
    Ok(FakeOutputs {
        features: outputs.features()?,
        probabilities,
        predicted: outputs.predicted,
        labels,
    })
}

/// Features of `options.samples` items of `data` (all when it has fewer), drawn with the seed.
fn extract_reference(
    extractor: &Extractor,
    data: &dyn Dataset,
    options: &EvalOptions,
    device: &Device,
) -> Result<Features, TrainError> {
    let mut rng = Pcg64Mcg::seed_from_u64(options.seed);
    let count = options.samples.min(data.len());
    let mut indices = sample(&mut rng, data.len(), count).into_vec();
    indices.sort_unstable();
    let shape = data.item_shape();
    let item: usize = shape.iter().product();
    let mut outputs = Outputs::default();
    for chunk in indices.chunks(CHUNK) {
        let mut values = vec![0.0f32; chunk.len() * item];
        for (&index, out) in chunk.iter().zip(values.chunks_mut(item)) {
            data.write_item(index, out)?;
        }
        extractor.push(&mut outputs, values, shape, device);
    }
    outputs.features()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacked_samples_are_cropped_to_their_digits_and_labelled_as_the_data_is() {
        // Two samples of 3 channels of 4x5, each value encoding (sample, channel, y, x).
        let [n, c, h, w] = [2, 3, 4, 5];
        let values: Vec<f32> = (0..n * c * h * w).map(|i| i as f32).collect();
        let view = StackedView {
            digit: [2, 3],
            offset: [1, 2],
            classes: 10,
        };
        let digits = view.crop(&values, [c, h, w]);
        assert_eq!(digits.len(), n * c * 2 * 3);
        let at = |s: usize, ch: usize, y: usize, x: usize| (((s * c + ch) * h + y) * w + x) as f32;
        // Sample 1, channel 2: rows 1-2, columns 2-4.
        let last = &digits[(c + 2) * 6..];
        assert_eq!(
            last,
            [
                at(1, 2, 1, 2),
                at(1, 2, 1, 3),
                at(1, 2, 1, 4),
                at(1, 2, 2, 2),
                at(1, 2, 2, 3),
                at(1, 2, 2, 4)
            ]
        );
        assert_eq!(digits[0], at(0, 0, 1, 2));
        let modes: Vec<u32> = stacked_modes(&[7, 2, 1, 0, 0, 9], 3, 10).collect();
        assert_eq!(modes, [721, 9]);
    }
}
