//! `ganforge classify`: a CNN classifier per dataset, trained with burn on any backend, and the
//! score of a conditional generator by it: of the samples generated for class `c`, the
//! fraction the classifier labels `c`.
//!
//! A trained classifier is a directory: `classifier.bpk` (the weights) and
//! `classifier.json` ([`ClassifierInfo`]: the dataset, its class names, the image shape, the
//! network's sizes and its accuracy on the held-out split).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use ganforge_data::{BatchLoader, DataError, Dataset, LoaderPosition, Split};
use ganforge_losses::class_cross_entropy;
use ganforge_models::{Classifier, ClassifierConfig, WeightInit};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::checkpoint::load_module;
use crate::error::TrainError;
use crate::fsio::write_atomic;
use crate::generate::{Weights, load_generator, resolve_checkpoint};
use crate::objective::{AdamSpec, label_tensor};
use crate::spec::DataSpec;

pub(crate) const WEIGHTS: &str = "classifier.bpk";
const INFO: &str = "classifier.json";
/// Items classified per forward pass when evaluating.
const EVAL_CHUNK: usize = 500;
/// The image folder's held-out share: every `HOLD_OUT`-th picture.
const HOLD_OUT: usize = 10;

/// How to train a classifier.
#[derive(Debug, Clone)]
pub struct ClassifierTraining {
    /// The training data; its test split (an image folder's every tenth picture) is held out.
    pub data: DataSpec,
    /// A separate held-out set instead (e.g. an image folder's `test/` beside `train/`).
    pub test_data: Option<DataSpec>,
    /// Passes over the training data.
    pub epochs: u64,
    /// Items per step.
    pub batch_size: usize,
    /// Adam's learning rate in the first epoch; it halves after each epoch.
    pub lr: f64,
    /// Channels of the first convolutions.
    pub width: usize,
    /// Seed of the weights and the data order.
    pub seed: u64,
    /// Print a line per epoch.
    pub verbose: bool,
}

/// What a trained classifier is, saved beside its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierInfo {
    /// The dataset's name.
    pub dataset: String,
    /// Class names in label order.
    pub class_names: Vec<String>,
    /// `[C, H, W]` of its input.
    pub shape: [usize; 3],
    /// Channels of the first convolutions.
    pub width: usize,
    /// Accuracy on the held-out split.
    pub test_accuracy: f64,
    /// Accuracy on the held-out items of each class, in label order (`None` for a class with
    /// no held-out item; empty in descriptions written before it was recorded).
    #[serde(default)]
    pub test_accuracy_per_class: Vec<Option<f64>>,
    /// Items in the held-out split.
    pub test_items: usize,
    /// Passes over the training data.
    pub epochs: u64,
    /// Training wall time, seconds.
    pub seconds: f64,
}

impl ClassifierInfo {
    fn config(&self) -> ClassifierConfig {
        let [c, h, _] = self.shape;
        ClassifierConfig::new(c, h, self.class_names.len()).with_width(self.width)
    }
}

/// Items of a dataset at chosen indices.
struct Subset {
    inner: Arc<dyn Dataset>,
    indices: Vec<usize>,
}

impl Dataset for Subset {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn item_shape(&self) -> [usize; 3] {
        self.inner.item_shape()
    }

    fn num_classes(&self) -> Option<usize> {
        self.inner.num_classes()
    }

    fn class_names(&self) -> Option<Vec<String>> {
        self.inner.class_names()
    }

    fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
        let inner = self.indices.get(index).copied().ok_or_else(|| {
            DataError::Invalid(format!(
                "item {index} out of range (subset has {})",
                self.len()
            ))
        })?;
        self.inner.write_item(inner, out)
    }
}

/// A dataset shared with the loader thread.
pub(crate) type Shared = Arc<dyn Dataset>;

/// The training and held-out splits of `data`.
pub(crate) fn splits(data: &DataSpec) -> Result<(Shared, Shared), TrainError> {
    match data {
        DataSpec::Idx { kind, dir, .. } => {
            let split = |split| DataSpec::Idx {
                kind: *kind,
                split,
                dir: dir.clone(),
            };
            Ok((split(Split::Train).open(0)?, split(Split::Test).open(0)?))
        }
        DataSpec::Cifar10 { dir, .. } => {
            let split = |split| DataSpec::Cifar10 {
                split,
                dir: dir.clone(),
            };
            Ok((split(Split::Train).open(0)?, split(Split::Test).open(0)?))
        }
        DataSpec::ImageFolder { .. } => {
            let all = data.open(0)?;
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..all.len()).partition(|i| i % HOLD_OUT == HOLD_OUT - 1);
            let subset = |indices| -> Shared {
                Arc::new(Subset {
                    inner: Arc::clone(&all),
                    indices,
                })
            };
            Ok((subset(train), subset(test)))
        }
        DataSpec::Toy { .. } => Err(TrainError::Invalid {
            key: "--dataset",
            value: "toy".into(),
            reason: "the classifier is for images".into(),
        }),
        DataSpec::Stacked { .. } => Err(TrainError::Invalid {
            key: "--dataset",
            value: dataset_name(data),
            reason: "stacked items are scored by classifying each channel: train the \
                     classifier on the digits (`--dataset mnist`)"
                .into(),
        }),
        DataSpec::TaskPairs { .. }
        | DataSpec::AlignedPairs { .. }
        | DataSpec::FolderPairs { .. } => Err(TrainError::Invalid {
            key: "--dataset",
            value: dataset_name(data),
            reason: "the classifier is for labelled images, not pairs".into(),
        }),
    }
}

pub(crate) fn dataset_name(data: &DataSpec) -> String {
    match data {
        DataSpec::Idx { kind, .. } => kind.name().to_string(),
        DataSpec::Cifar10 { .. } => "cifar10".to_string(),
        DataSpec::ImageFolder { dir, .. } => format!("image-folder:{}", dir.display()),
        DataSpec::Toy { .. } => "toy".to_string(),
        DataSpec::Stacked { digits, .. } => format!("stacked-{}", dataset_name(digits)),
        DataSpec::TaskPairs { images, task, .. } => {
            format!("{}-{task:?}-pairs", dataset_name(images))
        }
        DataSpec::AlignedPairs { dir, .. } => format!("aligned-pairs:{}", dir.display()),
        DataSpec::FolderPairs { sources, .. } => format!("folder-pairs:{}", sources.display()),
    }
}

/// Trains a classifier on `spec.data`, measures it on the held-out split and saves it in
/// `out`.
pub fn train(
    spec: &ClassifierTraining,
    device: &Device,
    out: &Path,
) -> Result<ClassifierInfo, TrainError> {
    let start = Instant::now();
    let (train, test) = match &spec.test_data {
        Some(test) => (spec.data.open(spec.seed)?, test.open(spec.seed)?),
        None => splits(&spec.data)?,
    };
    if test.class_names() != train.class_names() {
        return Err(TrainError::Invalid {
            key: "--test-data",
            value: dataset_name(spec.test_data.as_ref().unwrap_or(&spec.data)),
            reason: format!(
                "its classes {:?} differ from the training data's {:?}",
                test.class_names(),
                train.class_names()
            ),
        });
    }
    let class_names = train.class_names().ok_or_else(|| TrainError::Invalid {
        key: "--dataset",
        value: dataset_name(&spec.data),
        reason: "its items carry no class labels".into(),
    })?;
    let mut info = ClassifierInfo {
        dataset: dataset_name(&spec.data),
        class_names,
        shape: train.item_shape(),
        width: spec.width,
        test_accuracy: 0.0,
        test_accuracy_per_class: Vec::new(),
        test_items: test.len(),
        epochs: spec.epochs,
        seconds: 0.0,
    };
    let ad = device.clone().autodiff();
    let mut model = info.config().init(&ad, &mut WeightInit::new(spec.seed))?;
    let adam = AdamSpec {
        lr: spec.lr,
        beta1: 0.9,
        ..AdamSpec::DCGAN
    };
    let mut optimizer = adam.optimizer();
    let mut loader = BatchLoader::new(
        train,
        spec.batch_size,
        spec.seed,
        LoaderPosition::default(),
        4,
    )?;
    for epoch in 0..spec.epochs {
        let lr = spec.lr * 0.5f64.powi(epoch.min(60) as i32);
        let mut loss_sum = Tensor::<1>::zeros([1], &ad);
        let steps = loader.batches_per_epoch();
        for _ in 0..steps {
            let host = loader.next_batch()?;
            let labels = label_tensor(&host.labels.clone().unwrap_or_default(), &ad);
            let loss = class_cross_entropy(model.forward(host.into_tensor(&ad)), &labels);
            loss_sum = loss_sum + loss.clone().detach();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
        }
        if spec.verbose {
            let accuracy = accuracy(&model.valid(), test.as_ref(), device)?.overall;
            let loss = loss_sum.into_scalar::<f32>() / steps as f32;
            eprintln!(
                "epoch {}: loss {loss:.4}, held-out accuracy {:.4} ({:.0} s)",
                epoch + 1,
                accuracy,
                start.elapsed().as_secs_f64()
            );
        }
    }
    let model = model.valid();
    let held_out = accuracy(&model, test.as_ref(), device)?;
    info.test_accuracy = held_out.overall;
    info.test_accuracy_per_class = held_out.per_class;
    info.seconds = start.elapsed().as_secs_f64();
    save(&model, &info, out)?;
    Ok(info)
}

fn save(model: &Classifier, info: &ClassifierInfo, out: &Path) -> Result<(), TrainError> {
    std::fs::create_dir_all(out).map_err(|e| TrainError::write(out, e))?;
    let path = out.join(WEIGHTS);
    let bytes =
        model.clone().into_record().into_bytes().map_err(|e| {
            TrainError::checkpoint(&path, format!("cannot encode the classifier: {e}"))
        })?;
    write_atomic(&path, &bytes)?;
    let json = serde_json::to_vec_pretty(info)
        .map_err(|e| TrainError::write(out.join(INFO), std::io::Error::other(e)))?;
    write_atomic(&out.join(INFO), &json)
}

/// Whether `dir` holds a classifier written by [`train`] (its description, at least).
pub fn is_classifier(dir: &Path) -> bool {
    dir.join(INFO).is_file()
}

/// Loads a classifier directory written by [`train`].
pub fn load(dir: &Path, device: &Device) -> Result<(Classifier, ClassifierInfo), TrainError> {
    let info_path = dir.join(INFO);
    let text = std::fs::read(&info_path).map_err(|e| TrainError::checkpoint(&info_path, e))?;
    let info: ClassifierInfo = serde_json::from_slice(&text)
        .map_err(|e| TrainError::checkpoint(&info_path, format!("not a classifier: {e}")))?;
    let model = info.config().init(device, &mut WeightInit::new(0))?;
    let model = load_module(model, &dir.join(WEIGHTS))?;
    Ok((model, info))
}

/// The classes `model` assigns to `[N, C, H, W]` values, in chunks.
pub fn predict(model: &Classifier, values: &[f32], shape: [usize; 3], device: &Device) -> Vec<u32> {
    let item: usize = shape.iter().product();
    let mut out = Vec::with_capacity(values.len() / item.max(1));
    for chunk in values.chunks(EVAL_CHUNK * item) {
        let n = chunk.len() / item;
        let x = Tensor::<4>::from_data(
            TensorData::new(chunk.to_vec(), [n, shape[0], shape[1], shape[2]]),
            device,
        );
        let classes = model.forward(x).argmax(1).flatten::<1>(0, 1);
        let classes = classes.into_data().convert::<i64>();
        out.extend(classes.iter::<i64>().map(|c| c as u32));
    }
    out
}

/// The penultimate features `model` computes for `[N, C, H, W]` values, in chunks, and their
/// width.
pub fn features(
    model: &Classifier,
    values: &[f32],
    shape: [usize; 3],
    device: &Device,
) -> (Vec<f32>, usize) {
    let item: usize = shape.iter().product();
    let (mut out, mut dim) = (Vec::new(), 0);
    for chunk in values.chunks(EVAL_CHUNK * item.max(1)) {
        let n = chunk.len() / item;
        let x = Tensor::<4>::from_data(
            TensorData::new(chunk.to_vec(), [n, shape[0], shape[1], shape[2]]),
            device,
        );
        let features = model.features(x);
        dim = features.dims()[1];
        out.extend(
            features
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap_or_default(),
        );
    }
    (out, dim)
}

/// How often a classifier labels a held-out set correctly.
#[derive(Debug, Clone, PartialEq)]
pub struct Accuracy {
    /// Fraction of all items labelled correctly.
    pub overall: f64,
    /// Fraction of each class's items labelled correctly, in label order (`None` for a class
    /// without items).
    pub per_class: Vec<Option<f64>>,
}

/// How often `model` (in evaluation mode) labels `dataset`'s items correctly, overall and
/// per class.
pub fn accuracy(
    model: &Classifier,
    dataset: &dyn Dataset,
    device: &Device,
) -> Result<Accuracy, TrainError> {
    let shape = dataset.item_shape();
    let item: usize = shape.iter().product();
    let classes = dataset.num_classes().unwrap_or(0);
    let (mut correct, mut seen) = (vec![0usize; classes], vec![0usize; classes]);
    let mut start = 0;
    while start < dataset.len() {
        let n = EVAL_CHUNK.min(dataset.len() - start);
        let mut values = vec![0.0f32; n * item];
        let mut labels = Vec::with_capacity(n);
        for (i, out) in values.chunks_mut(item).enumerate() {
            labels.push(dataset.write_item(start + i, out)?.unwrap_or(u32::MAX));
        }
        let predicted = predict(model, &values, shape, device);
        for (p, &l) in predicted.iter().zip(&labels) {
            let Some(seen) = seen.get_mut(l as usize) else {
                continue;
            };
            *seen += 1;
            correct[l as usize] += usize::from(*p == l);
        }
        start += n;
    }
    Ok(Accuracy {
        overall: correct.iter().sum::<usize>() as f64 / dataset.len().max(1) as f64,
        per_class: correct
            .iter()
            .zip(&seen)
            .map(|(&hits, &of)| (of > 0).then(|| hits as f64 / of as f64))
            .collect(),
    })
}

/// The error for a class score asked of a generator that takes no class.
pub(crate) fn not_conditional(checkpoint: &Path) -> TrainError {
    TrainError::Invalid {
        key: "--checkpoint",
        value: checkpoint.display().to_string(),
        reason: "its generator is not class-conditional, so it has no class to score".into(),
    }
}

/// Checks that the classifier at `path` (described by `info`) reads what a generator of
/// `shape` samples makes and, for a conditional generator (`class_names` not empty), knows
/// its classes.
pub(crate) fn check_compatible(
    path: &Path,
    info: &ClassifierInfo,
    class_names: &[String],
    shape: [usize; 3],
) -> Result<(), TrainError> {
    let refuse = |reason: String| TrainError::Invalid {
        key: "--classifier",
        value: path.display().to_string(),
        reason,
    };
    if !class_names.is_empty() && class_names != info.class_names {
        return Err(refuse(format!(
            "it knows the classes {:?}, the generator {:?}",
            info.class_names, class_names
        )));
    }
    if shape != info.shape {
        return Err(refuse(format!(
            "it reads {:?} images, the generator makes {:?}",
            info.shape, shape
        )));
    }
    Ok(())
}

/// Per-class agreement between a conditional generator and a classifier.
#[derive(Debug, Clone, Serialize)]
pub struct ClassScores {
    /// The checkpoint scored.
    pub checkpoint: PathBuf,
    /// Samples generated per class.
    pub count_per_class: usize,
    /// `(class name, fraction of its samples the classifier labels as it)`, in label order.
    pub per_class: Vec<(String, f64)>,
    /// Mean over the classes.
    pub mean: f64,
    /// The lowest class.
    pub min: f64,
    /// The classifier's accuracy on real held-out items, for comparison.
    pub classifier_test_accuracy: f64,
    /// `(class name, the classifier's accuracy on real held-out items of that class)`, in
    /// label order; empty for a classifier whose description predates it.
    pub classifier_per_class: Vec<(String, Option<f64>)>,
    /// The lowest ratio of a class's score to the classifier's accuracy on real held-out items
    /// of the same class, over the classes it labelled some of correctly (`None` when there
    /// is no such class).
    pub min_ratio_to_real: Option<f64>,
}

/// Generates `count` samples per class from the checkpoint at `checkpoint` (noise from `seed`)
/// and reports which fraction of each class's samples the classifier in `classifier` labels
/// as that class, using the generator `weights` asked for.
pub fn score(
    classifier: &Path,
    checkpoint: &Path,
    count: usize,
    seed: u64,
    weights: Weights,
    device: &Device,
) -> Result<ClassScores, TrainError> {
    if count == 0 {
        return Err(TrainError::Invalid {
            key: "--count",
            value: "0".into(),
            reason: "must be at least 1".into(),
        });
    }
    let (model, info) = load(classifier, device)?;
    let dir = resolve_checkpoint(checkpoint)?;
    let loaded = load_generator(&dir, device, weights)?.for_sampling(&dir)?;
    if loaded.class_names.is_empty() {
        return Err(not_conditional(&dir));
    }
    check_compatible(
        classifier,
        &info,
        &loaded.class_names,
        loaded.sampler.shape(),
    )?;
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let per_class: Vec<(String, f64)> = info
        .class_names
        .iter()
        .enumerate()
        .map(|(class, name)| {
            let labels = vec![class as u32; count];
            let samples =
                loaded
                    .sampler
                    .generate(&loaded.generator, device, &mut rng, count, Some(&labels));
            let predicted = predict(&model, &samples, info.shape, device);
            let hits = predicted.iter().filter(|&&p| p == class as u32).count();
            (name.clone(), hits as f64 / count as f64)
        })
        .collect();
    let fractions: Vec<f64> = per_class.iter().map(|(_, f)| *f).collect();
    let real = &info.test_accuracy_per_class;
    let min_ratio_to_real = fractions
        .iter()
        .zip(real)
        .filter_map(|(generated, real)| real.filter(|&r| r > 0.0).map(|r| generated / r))
        .reduce(f64::min);
    Ok(ClassScores {
        checkpoint: dir,
        count_per_class: count,
        mean: fractions.iter().sum::<f64>() / fractions.len().max(1) as f64,
        min: fractions.iter().copied().fold(f64::INFINITY, f64::min),
        per_class,
        classifier_test_accuracy: info.test_accuracy,
        classifier_per_class: info.class_names.iter().cloned().zip(real.clone()).collect(),
        min_ratio_to_real,
    })
}
