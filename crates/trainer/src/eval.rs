//! `ganforge eval`: scores a checkpoint's samples against real data in the feature space of a
//! dataset classifier (`ganforge classify train`), with the metrics of `ganforge-metrics`.
//!
//! Every score's name ends in its feature extractor (`fid_classifier`, not `fid`): a Fréchet
//! distance in a small dataset classifier's features is not the FID that papers report in
//! Inception-v3's, and the two must never be mistaken for each other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use burn::prelude::*;
use ganforge_data::{Dataset, Split};
use ganforge_metrics::{
    Features, GaussianStats, KidConfig, MetricsError, density_coverage, frechet_distance,
    inception_score, kernel_inception_distance, precision_recall,
};
use ganforge_models::Classifier;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::classify::{self, check_compatible, not_conditional};
use crate::error::TrainError;
use crate::fsio::write_atomic;
use crate::generate::{LoadedGenerator, Weights, load_generator, resolve_checkpoint};

/// Items passed through the classifier at once.
const CHUNK: usize = 500;
/// Neighbours of improved precision and recall (Kynkäänniemi et al. 2019).
const PR_NEIGHBOURS: usize = 3;
/// Neighbours of density and coverage (Naeem et al. 2020).
const DC_NEIGHBOURS: usize = 5;
/// Splits of the Inception Score (Salimans et al. 2016).
const IS_SPLITS: usize = 10;
/// The suffix naming the feature extractor in every score.
const EXTRACTOR: &str = "classifier";

/// A score `ganforge eval` can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Fréchet distance between Gaussians fitted to the features.
    Fid,
    /// Kernel Inception Distance (mean and standard deviation over subsets).
    Kid,
    /// Improved precision and recall.
    PrecisionRecall,
    /// Density and coverage.
    DensityCoverage,
    /// Inception Score from the classifier's class probabilities.
    InceptionScore,
    /// Fraction of a conditional generator's samples that the classifier labels as the class
    /// they were generated for.
    ClassAccuracy,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 6] = [
        Metric::Fid,
        Metric::Kid,
        Metric::PrecisionRecall,
        Metric::DensityCoverage,
        Metric::InceptionScore,
        Metric::ClassAccuracy,
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
        }
    }

    fn needs_reference(self) -> bool {
        !matches!(self, Metric::InceptionScore | Metric::ClassAccuracy)
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
    /// The feature extractor: `classifier`.
    pub extractor: &'static str,
    /// The classifier directory.
    pub classifier: PathBuf,
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
/// dataset, in the features of the classifier at `classifier`.
pub fn evaluate(
    checkpoint: &Path,
    classifier: &Path,
    options: &EvalOptions,
    device: &Device,
) -> Result<EvalReport, TrainError> {
    let start = Instant::now();
    check_options(options)?;
    let (model, info) = classify::load(classifier, device)?;
    let dir = resolve_checkpoint(checkpoint)?;
    let loaded = load_generator(&dir, device, options.weights)?.for_sampling(&dir)?;
    check_compatible(classifier, &info, &loaded)?;
    let wants = |m: Metric| options.metrics.contains(&m);
    if wants(Metric::ClassAccuracy) && loaded.class_names.is_empty() {
        return Err(not_conditional(&dir));
    }
    let fake = fake_outputs(&model, &loaded, options, device)?;
    let reference = if options.metrics.iter().any(|m| m.needs_reference()) {
        Some(reference_features(
            &model, classifier, &loaded, options, device,
        )?)
    } else {
        None
    };
    let mut scores = BTreeMap::new();
    let mut put = |name: &str, value: f64| {
        scores.insert(score_name(name), value);
    };
    if let Some((real, _)) = &reference {
        score_against_reference(
            &options.metrics,
            &options.kid,
            real,
            &fake.features,
            &mut put,
        )?;
    }
    if wants(Metric::InceptionScore) {
        let is = inception_score(&fake.probabilities, IS_SPLITS).map_err(metric_error)?;
        put("is", is.mean);
        put("is+std", is.std);
    }
    if let (true, Some(labels)) = (wants(Metric::ClassAccuracy), &fake.labels) {
        let hits = labels.iter().zip(&fake.predicted).filter(|(a, b)| a == b);
        put("class_acc", hits.count() as f64 / labels.len() as f64);
    }
    Ok(EvalReport {
        checkpoint: dir,
        weights: match options.weights {
            Weights::Averaged if loaded.spec.ema.is_some() => "averaged",
            _ => "trained",
        },
        extractor: EXTRACTOR,
        classifier: classifier.to_path_buf(),
        dataset: info.dataset.clone(),
        reference_split: split_name(options.reference),
        reference_items: reference.as_ref().map_or(0, |(f, _)| f.rows()),
        reference_cached: reference.as_ref().is_some_and(|(_, cached)| *cached),
        samples: options.samples,
        scores,
        seconds: start.elapsed().as_secs_f64(),
    })
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
            Metric::InceptionScore | Metric::ClassAccuracy => {}
        }
    }
    Ok(())
}

/// `fid` -> `fid_classifier`; `kid+std` (a spread) -> `kid_classifier_std`.
fn score_name(name: &str) -> String {
    match name.split_once('+') {
        Some((metric, statistic)) => format!("{metric}_{EXTRACTOR}_{statistic}"),
        None => format!("{name}_{EXTRACTOR}"),
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
    model: &Classifier,
    classifier: &Path,
    loaded: &LoadedGenerator,
    options: &EvalOptions,
    device: &Device,
) -> Result<(Features, bool), TrainError> {
    let data = reference_data(loaded, options.reference)?;
    let dataset = classify::dataset_name(&loaded.spec.data);
    let cache = ReferenceCache::new(classifier, &dataset, options)?;
    if let Some(features) = cache.load(data.len()) {
        return Ok((features, true));
    }
    let features = extract_reference(model, data.as_ref(), options, device)?;
    cache.store(&features);
    Ok((features, false))
}

/// The split `split` of the dataset the checkpoint's run trained on.
fn reference_data(loaded: &LoadedGenerator, split: Split) -> Result<classify::Shared, TrainError> {
    let (train, test) = classify::splits(&loaded.spec.data)?;
    Ok(match split {
        Split::Train => train,
        Split::Test => test,
    })
}

/// What the classifier makes of the generated samples.
struct FakeOutputs {
    features: Features,
    probabilities: Features,
    predicted: Vec<u32>,
    /// The class each sample was generated for (conditional generators).
    labels: Option<Vec<u32>>,
}

fn fake_outputs(
    model: &Classifier,
    loaded: &LoadedGenerator,
    options: &EvalOptions,
    device: &Device,
) -> Result<FakeOutputs, TrainError> {
    let mut rng = Pcg64Mcg::seed_from_u64(options.seed);
    let classes = loaded.class_names.len();
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
        let values = loaded
            .sampler
            .generate(&loaded.generator, device, &mut rng, n, chunk_labels);
        outputs.push(model, values, loaded.sampler.shape(), device);
        done += n;
    }
    Ok(FakeOutputs {
        features: outputs.features()?,
        probabilities: outputs.probabilities(model.classes())?,
        predicted: outputs.predicted,
        labels,
    })
}

/// Features of `options.samples` items of `data` (all when it has fewer), drawn with the seed.
fn extract_reference(
    model: &Classifier,
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
        outputs.push(model, values, shape, device);
    }
    outputs.features()
}

/// Reference features saved beside the classifier (`reference/<split>-n<N>-seed<S>.bin`),
/// keyed by the SHA-256 of the classifier's weights and the dataset's name (an image folder's
/// includes its path), so a retrained classifier or another folder never reads another's. Layout: the 32-byte digest, rows and features per row (u64 little-endian), then
/// the features (f32 little-endian). A missing, stale or damaged file is recomputed.
struct ReferenceCache {
    path: PathBuf,
    digest: [u8; 32],
    samples: usize,
}

impl ReferenceCache {
    fn new(classifier: &Path, dataset: &str, options: &EvalOptions) -> Result<Self, TrainError> {
        let weights = classifier.join(classify::WEIGHTS);
        let mut bytes = std::fs::read(&weights).map_err(|e| TrainError::checkpoint(&weights, e))?;
        bytes.extend_from_slice(dataset.as_bytes());
        let name = format!(
            "{}-n{}-seed{}.bin",
            split_name(options.reference),
            options.samples,
            options.seed
        );
        Ok(Self {
            path: classifier.join("reference").join(name),
            digest: Sha256::digest(&bytes).into(),
            samples: options.samples,
        })
    }

    /// The cached features, if the file is there, whole, for these weights and of the
    /// expected size (`options.samples` items or the whole split, `available`).
    fn load(&self, available: usize) -> Option<Features> {
        let bytes = std::fs::read(&self.path).ok()?;
        let (digest, rest) = bytes.split_at_checked(32)?;
        let (rows, rest) = rest.split_at_checked(8)?;
        let (dim, values) = rest.split_at_checked(8)?;
        let rows = u64::from_le_bytes(rows.try_into().ok()?) as usize;
        let dim = u64::from_le_bytes(dim.try_into().ok()?) as usize;
        let expected = self.samples.min(available);
        if digest != self.digest || rows != expected || values.len() != rows.checked_mul(dim)? * 4 {
            return None;
        }
        let values: Vec<f32> = values
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Features::from_f32(&values, dim).ok()
    }

    /// Saves `features`; a cache that cannot be written (a read-only directory) only costs
    /// the next run the extraction.
    fn store(&self, features: &Features) {
        let mut bytes = Vec::with_capacity(48 + features.as_slice().len() * 4);
        bytes.extend_from_slice(&self.digest);
        bytes.extend_from_slice(&(features.rows() as u64).to_le_bytes());
        bytes.extend_from_slice(&(features.dim() as u64).to_le_bytes());
        for &v in features.as_slice() {
            bytes.extend_from_slice(&(v as f32).to_le_bytes());
        }
        if let Some(dir) = self.path.parent()
            && std::fs::create_dir_all(dir).is_ok()
        {
            let _ = write_atomic(&self.path, &bytes);
        }
    }
}

/// The classifier's outputs, gathered chunk by chunk.
#[derive(Default)]
struct Outputs {
    features: Vec<f32>,
    feature_dim: usize,
    probabilities: Vec<f32>,
    predicted: Vec<u32>,
}

impl Outputs {
    fn push(&mut self, model: &Classifier, values: Vec<f32>, shape: [usize; 3], device: &Device) {
        let n = values.len() / shape.iter().product::<usize>();
        let x = Tensor::<4>::from_data(
            TensorData::new(values, [n, shape[0], shape[1], shape[2]]),
            device,
        );
        let features = model.features(x); // [n, F]
        let logits = model.logits(features.clone()); // [n, classes]
        let predicted = logits.clone().argmax(1).flatten::<1>(0, 1);
        let probabilities = burn::tensor::activation::softmax(logits, 1);
        self.feature_dim = features.dims()[1];
        self.features.extend(host(features));
        self.probabilities.extend(host(probabilities));
        let predicted = predicted.into_data().convert::<i64>();
        self.predicted
            .extend(predicted.iter::<i64>().map(|c| c as u32));
    }

    fn features(&self) -> Result<Features, TrainError> {
        Features::from_f32(&self.features, self.feature_dim).map_err(metric_error)
    }

    fn probabilities(&self, classes: usize) -> Result<Features, TrainError> {
        Features::from_f32(&self.probabilities, classes).map_err(metric_error)
    }
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}
