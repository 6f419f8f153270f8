//! The networks whose features the scores are computed in (a dataset classifier, or the FID
//! Inception-v3), what they make of a chunk of items, and the cache of the reference items'
//! features.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::softmax;
use ganforge_metrics::Features;
use ganforge_models::{Classifier, INCEPTION_CLASSES};
use sha2::{Digest, Sha256};

use super::{EvalOptions, ExtractorKind, metric_error, split_name};
use crate::classify::{self, ClassifierInfo};
use crate::error::TrainError;
use crate::fsio::write_atomic;
use crate::inception::{InceptionWeights, LoadedInception, load_inception};

/// Pictures the Inception network sees at once (its activations at 299x299 are large).
const INCEPTION_BATCH: usize = 25;

/// Which extractor to score with, before it is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractorSpec {
    /// A classifier directory written by `ganforge classify train` for the run's dataset.
    Classifier(PathBuf),
    /// pytorch-fid's Inception-v3 (the papers' FID).
    Inception(InceptionWeights),
}

impl ExtractorSpec {
    /// The extractor's kind, which names the scores.
    pub fn kind(&self) -> ExtractorKind {
        match self {
            ExtractorSpec::Classifier(_) => ExtractorKind::Classifier,
            ExtractorSpec::Inception(_) => ExtractorKind::Inception,
        }
    }
}

/// A loaded extractor.
pub(super) enum Extractor {
    Classifier {
        model: Box<Classifier>,
        info: ClassifierInfo,
        path: PathBuf,
    },
    Inception(Box<LoadedInception>),
}

impl Extractor {
    pub(super) fn load(spec: &ExtractorSpec, device: &Device) -> Result<Self, TrainError> {
        Ok(match spec {
            ExtractorSpec::Classifier(path) => {
                let (model, info) = classify::load(path, device)?;
                Extractor::Classifier {
                    model: Box::new(model),
                    info,
                    path: path.clone(),
                }
            }
            ExtractorSpec::Inception(weights) => {
                Extractor::Inception(Box::new(load_inception(weights, device)?))
            }
        })
    }

    pub(super) fn kind(&self) -> ExtractorKind {
        match self {
            Extractor::Classifier { .. } => ExtractorKind::Classifier,
            Extractor::Inception(_) => ExtractorKind::Inception,
        }
    }

    /// The classifier, its description and directory, when it is one.
    pub(super) fn classifier(&self) -> Option<(&Classifier, &ClassifierInfo, &Path)> {
        match self {
            Extractor::Classifier { model, info, path } => Some((model, info, path)),
            Extractor::Inception(_) => None,
        }
    }

    /// Classes of its probabilities: the classifier's, or Inception's 1008.
    pub(super) fn classes(&self) -> usize {
        match self {
            Extractor::Classifier { model, .. } => model.classes(),
            Extractor::Inception(_) => INCEPTION_CLASSES,
        }
    }

    /// The weight file: the classifier directory or the Inception file.
    pub(super) fn path(&self) -> &Path {
        match self {
            Extractor::Classifier { path, .. } => path,
            Extractor::Inception(loaded) => &loaded.path,
        }
    }

    /// Adds what the extractor makes of `values` (`[N, C, H, W]` items in `[-1, 1]`, `shape`
    /// = `[C, H, W]`) to `outputs`.
    pub(super) fn push(
        &self,
        outputs: &mut Outputs,
        values: Vec<f32>,
        shape: [usize; 3],
        device: &Device,
    ) {
        match self {
            Extractor::Classifier { model, .. } => {
                outputs.push_classified(model, values, shape, device)
            }
            Extractor::Inception(loaded) => {
                let item: usize = shape.iter().product();
                for chunk in values.chunks(INCEPTION_BATCH * item) {
                    let pictures = as_saved_pictures(chunk);
                    let n = chunk.len() / item;
                    let x = Tensor::<4>::from_data(
                        TensorData::new(pictures, [n, shape[0], shape[1], shape[2]]),
                        device,
                    );
                    let features = loaded.model.forward(x);
                    let logits = loaded.model.class_logits(features.clone());
                    outputs.push_features(features);
                    outputs.push_probabilities(softmax(logits, 1));
                }
            }
        }
    }

    /// Where the reference features of `dataset` are cached for this extractor: beside the
    /// classifier, in the ganforge cache for the published Inception weights (none when
    /// there is no cache), beside any other Inception weight file.
    pub(super) fn reference_cache(
        &self,
        dataset: &str,
        shape: [usize; 3],
        options: &EvalOptions,
    ) -> Result<Option<ReferenceCache>, TrainError> {
        let (dir, mut key) = match self {
            Extractor::Classifier { path, .. } => {
                let weights = path.join(classify::WEIGHTS);
                let bytes =
                    std::fs::read(&weights).map_err(|e| TrainError::checkpoint(&weights, e))?;
                (path.join("reference"), bytes)
            }
            Extractor::Inception(loaded) => {
                let dir = match (&loaded.weights, ganforge_data::cache_dir()) {
                    (InceptionWeights::Published(_), Some(cache)) => cache.join("inception"),
                    (InceptionWeights::Published(_), None) => return Ok(None),
                    // Statistics of the user's own network stay beside it.
                    (InceptionWeights::Unverified(path), _) => {
                        path.parent().unwrap_or(Path::new(".")).to_path_buf()
                    }
                };
                (dir.join("reference"), loaded.sha256.clone().into_bytes())
            }
        };
        key.extend_from_slice(dataset.as_bytes());
        key.extend(shape.iter().flat_map(|d| (*d as u64).to_le_bytes()));
        Ok(Some(ReferenceCache::new(dir, &key, options)))
    }
}

/// Items in `[-1, 1]` as the `[0, 1]` pictures a saved PNG holds: rounded to 8 bits, as
/// every FID implementation sees generated samples (written to files first) and real ones.
fn as_saved_pictures(values: &[f32]) -> Vec<f32> {
    values
        .iter()
        .map(|v| ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) / 255.0)
        .collect()
}

/// Reference features saved as `<dir>/<digest>-<split>-n<N>-seed<S>.bin`, keyed by the
/// SHA-256 of the extractor's weights, the dataset's name (an image folder's includes its
/// path) and the item shape, so another extractor, folder or size never reads another's.
/// Layout: the 32-byte digest, rows and features per row (u64 little-endian), then the
/// features (f32 little-endian). A missing, stale or damaged file is recomputed.
pub(super) struct ReferenceCache {
    path: PathBuf,
    digest: [u8; 32],
    samples: usize,
}

impl ReferenceCache {
    fn new(dir: PathBuf, key: &[u8], options: &EvalOptions) -> Self {
        let digest: [u8; 32] = Sha256::digest(key).into();
        let prefix: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let name = format!(
            "{prefix}-{}-n{}-seed{}.bin",
            split_name(options.reference),
            options.samples,
            options.seed
        );
        Self {
            path: dir.join(name),
            digest,
            samples: options.samples,
        }
    }

    /// The cached features, if the file is there, whole, for these weights and of the
    /// expected size (`options.samples` items or the whole split, `available`).
    pub(super) fn load(&self, available: usize) -> Option<Features> {
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
    pub(super) fn store(&self, features: &Features) {
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

/// An extractor's outputs, gathered chunk by chunk: features and class probabilities, and
/// predictions from a classifier.
#[derive(Default)]
pub(super) struct Outputs {
    features: Vec<f32>,
    feature_dim: usize,
    probabilities: Vec<f32>,
    pub(super) predicted: Vec<u32>,
}

impl Outputs {
    fn push_classified(
        &mut self,
        model: &Classifier,
        values: Vec<f32>,
        shape: [usize; 3],
        device: &Device,
    ) {
        let n = values.len() / shape.iter().product::<usize>();
        let x = Tensor::<4>::from_data(
            TensorData::new(values, [n, shape[0], shape[1], shape[2]]),
            device,
        );
        let features = model.features(x); // [n, F]
        let logits = model.logits(features.clone()); // [n, classes]
        let predicted = logits.clone().argmax(1).flatten::<1>(0, 1);
        self.push_features(features);
        self.push_probabilities(softmax(logits, 1));
        let predicted = predicted.into_data().convert::<i64>();
        self.predicted
            .extend(predicted.iter::<i64>().map(|c| c as u32));
    }

    fn push_probabilities(&mut self, probabilities: Tensor<2>) {
        self.probabilities.extend(host(probabilities));
    }

    fn push_features(&mut self, features: Tensor<2>) {
        self.feature_dim = features.dims()[1];
        self.features.extend(host(features));
    }

    pub(super) fn features(&self) -> Result<Features, TrainError> {
        Features::from_f32(&self.features, self.feature_dim).map_err(metric_error)
    }

    pub(super) fn probabilities(&self, classes: usize) -> Result<Features, TrainError> {
        Features::from_f32(&self.probabilities, classes).map_err(metric_error)
    }
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_seen_as_8_bit_pictures() {
        let saved = as_saved_pictures(&[-1.0, 1.0, 0.0, -2.0, 3.0, 0.5]);
        assert_eq!(saved[0], 0.0);
        assert_eq!(saved[1], 1.0);
        assert_eq!(saved[2], 128.0 / 255.0); // 127.5 rounds up
        assert_eq!(saved[3], 0.0);
        assert_eq!(saved[4], 1.0);
        assert_eq!(saved[5], 191.0 / 255.0); // 191.25
    }
}
