//! [`RunSpec`]: everything a training run needs, as plain Rust values. The command line builds
//! one from a TOML file; a program can build one directly. [`RunSpec::check`] rejects
//! impossible combinations with an error naming the setting, before anything is allocated.
//! A run saves its spec as `spec.json` in every checkpoint, so a checkpoint is self-contained.

use std::num::{NonZeroU64, NonZeroUsize};
use std::path::PathBuf;
use std::sync::Arc;

use ganforge_backend::BackendKind;
use ganforge_data::{
    AlignedPairs, Cifar10, Cifar10Source, ColorMode, Dataset, FolderPairs, IdxDataset, IdxKind,
    ImageFolder, LocateOptions, Padded, PairTask, STACKED_CHANNELS, Split, Stacked, TaskPairs,
    ToyDataset, ToyDistribution, locate, stacked_class_names,
};
use ganforge_losses::{LeCam, LossKind, Penalty};
use ganforge_models::{
    Architecture, AugmentPolicy, Conditioning, ConditioningMethod, GeneratorOptions,
};
use serde::{Deserialize, Serialize};

use crate::ada::AdaSpec;
use crate::ema::EmaSpec;
use crate::error::TrainError;
use crate::eval::EvalSpec;
use crate::objective::{
    Augmentation, ClassConditional, GanSpec, InitSeeds, Objective, OptimizerSpec, PairShape,
    Regularisers, Unconditional,
};
use crate::translation::{Translation, TranslationSpec};

/// `images` centred on a black square canvas of side `pad_to` when that is larger (black:
/// the background of the digit and clothing datasets).
fn padded(images: Arc<dyn Dataset>, pad_to: Option<usize>) -> Result<Arc<dyn Dataset>, TrainError> {
    let [_, h, w] = images.item_shape();
    Ok(match pad_to.filter(|&side| side > h.min(w)) {
        Some(side) => Arc::new(Padded::new(images, side, -1.0)?),
        None => images,
    })
}

/// How long a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunLength {
    /// Passes over the data.
    Epochs(NonZeroU64),
    /// Iterations (one generator step and `n_critic` discriminator steps each).
    Steps(NonZeroU64),
}

/// What a run does when a loss or a weight stops being finite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "kebab-case")]
pub enum OnDivergence {
    /// Stop with an error naming the last good checkpoint.
    Stop,
    /// Reload the last good checkpoint and continue with both learning rates multiplied by
    /// `lr_factor`, at most `max_rollbacks` times over the run's life.
    Rollback {
        /// The learning rates' factor at each rollback, in (0, 1).
        lr_factor: f64,
        /// Rollbacks allowed before the run stops as with [`OnDivergence::Stop`].
        max_rollbacks: u32,
    },
}

impl OnDivergence {
    /// The usual rollback: halve the learning rates, up to three times.
    pub const DEFAULT_LR_FACTOR: f64 = 0.5;
    /// See [`OnDivergence::DEFAULT_LR_FACTOR`].
    pub const DEFAULT_MAX_ROLLBACKS: u32 = 3;
}

/// The dataset to open, with its paths resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dataset", rename_all = "kebab-case")]
pub enum DataSpec {
    /// MNIST or Fashion-MNIST.
    Idx {
        /// Which dataset.
        kind: IdxKind,
        /// Which split.
        split: Split,
        /// A directory the user named, if any.
        dir: Option<PathBuf>,
    },
    /// CIFAR-10.
    Cifar10 {
        /// Which split.
        split: Split,
        /// A directory the user named, if any.
        dir: Option<PathBuf>,
    },
    /// A folder of pictures.
    ImageFolder {
        /// The folder.
        dir: PathBuf,
        /// Side of the square pictures.
        image_size: usize,
        /// Grey or RGB.
        color: ColorMode,
    },
    /// A 2-D toy mixture.
    Toy {
        /// Which mixture.
        distribution: ToyDistribution,
        /// Points drawn.
        samples: usize,
    },
    /// Three items of a one-channel labelled dataset as the channels of one (stacked MNIST,
    /// 1,000 modes), for counting the modes a generator covers.
    Stacked {
        /// The one-channel items (MNIST's digits).
        digits: Box<DataSpec>,
        /// Stacked items drawn (deterministically from the run's seed).
        items: usize,
        /// Side of the black square canvas the digits are centred on first, when larger.
        pad_to: Option<usize>,
    },
    /// Pairs made from the images of another dataset by a task (edges, greyscale, low
    /// resolution or a hole -> the image).
    TaskPairs {
        /// The images.
        images: Box<DataSpec>,
        /// How a source is made from its image.
        task: PairTask,
        /// Side of the black square canvas the images are centred on first, when larger.
        pad_to: Option<usize>,
    },
    /// pix2pix's aligned format: source and target side by side in each picture.
    AlignedPairs {
        /// The folder.
        dir: PathBuf,
        /// Side of the square images.
        image_size: usize,
        /// Grey or RGB, for both halves.
        color: ColorMode,
    },
    /// Sources and targets in two folders, paired by file name.
    FolderPairs {
        /// The sources' folder (`A/`).
        sources: PathBuf,
        /// The targets' folder (`B/`).
        targets: PathBuf,
        /// Side of the square images.
        image_size: usize,
        /// Grey or RGB sources.
        source_color: ColorMode,
        /// Grey or RGB targets.
        target_color: ColorMode,
    },
}

impl DataSpec {
    /// Shape `[C, H, W]` of the items this dataset yields.
    pub fn item_shape(&self) -> [usize; 3] {
        match self {
            DataSpec::Idx { .. } => [1, 28, 28],
            DataSpec::Cifar10 { .. } => [3, 32, 32],
            DataSpec::ImageFolder {
                image_size, color, ..
            } => [color.channels(), *image_size, *image_size],
            DataSpec::Toy { .. } => [2, 1, 1],
            DataSpec::Stacked { digits, pad_to, .. } => {
                let [_, h, w] = digits.item_shape();
                let [h, w] = pad_to.map_or([h, w], |side| [side.max(h), side.max(w)]);
                [STACKED_CHANNELS, h, w]
            }
            DataSpec::TaskPairs {
                images,
                task,
                pad_to,
            } => {
                let [c, h, w] = images.item_shape();
                let [h, w] = pad_to.map_or([h, w], |side| [side.max(h), side.max(w)]);
                [task.source_channels(c) + c, h, w]
            }
            DataSpec::AlignedPairs {
                image_size, color, ..
            } => [2 * color.channels(), *image_size, *image_size],
            DataSpec::FolderPairs {
                image_size,
                source_color,
                target_color,
                ..
            } => [
                source_color.channels() + target_color.channels(),
                *image_size,
                *image_size,
            ],
        }
    }

    /// The same data's held-out split: the test split of MNIST, Fashion-MNIST and CIFAR-10,
    /// and the pairs a task makes from it; `None` for data without one (files).
    pub fn held_out(&self) -> Option<DataSpec> {
        match self {
            DataSpec::Idx { kind, dir, .. } => Some(DataSpec::Idx {
                kind: *kind,
                split: Split::Test,
                dir: dir.clone(),
            }),
            DataSpec::Cifar10 { dir, .. } => Some(DataSpec::Cifar10 {
                split: Split::Test,
                dir: dir.clone(),
            }),
            DataSpec::Stacked {
                digits,
                items,
                pad_to,
            } => digits.held_out().map(|digits| DataSpec::Stacked {
                digits: Box::new(digits),
                items: *items,
                pad_to: *pad_to,
            }),
            DataSpec::TaskPairs {
                images,
                task,
                pad_to,
            } => images.held_out().map(|images| DataSpec::TaskPairs {
                images: Box::new(images),
                task: *task,
                pad_to: *pad_to,
            }),
            _ => None,
        }
    }

    /// Channels of the source in each item of a paired dataset; `None` for datasets of
    /// single items.
    pub fn source_channels(&self) -> Option<usize> {
        match self {
            DataSpec::TaskPairs { images, task, .. } => {
                Some(task.source_channels(images.item_shape()[0]))
            }
            DataSpec::AlignedPairs { color, .. } => Some(color.channels()),
            DataSpec::FolderPairs { source_color, .. } => Some(source_color.channels()),
            _ => None,
        }
    }

    /// Whether the items are masked images and their wholes (inpainting).
    pub fn is_masked(&self) -> bool {
        matches!(
            self,
            DataSpec::TaskPairs {
                task: PairTask::Masked { .. },
                ..
            }
        )
    }

    /// Finds (or downloads) and opens the dataset.
    pub fn open(&self, seed: u64) -> Result<Arc<dyn Dataset>, TrainError> {
        Ok(match self {
            DataSpec::Idx { kind, split, dir } => {
                let options = LocateOptions::from_env(dir.clone());
                let (found, _) = locate(kind, *split, &options)?;
                Arc::new(IdxDataset::open(&found, *kind, *split)?)
            }
            DataSpec::Cifar10 { split, dir } => {
                let options = LocateOptions::from_env(dir.clone());
                let (found, _) = locate(&Cifar10Source, *split, &options)?;
                Arc::new(Cifar10::open(&found, *split)?)
            }
            DataSpec::ImageFolder {
                dir,
                image_size,
                color,
            } => Arc::new(ImageFolder::open(dir, *image_size, *color)?),
            DataSpec::Toy {
                distribution,
                samples,
            } => Arc::new(ToyDataset::new(*distribution, *samples, seed)?),
            DataSpec::Stacked {
                digits,
                items,
                pad_to,
            } => {
                let digits = padded(digits.open(seed)?, *pad_to)?;
                Arc::new(Stacked::new(digits, *items, seed)?)
            }
            DataSpec::TaskPairs {
                images,
                task,
                pad_to,
            } => {
                let images = padded(images.open(seed)?, *pad_to)?;
                Arc::new(TaskPairs::new(images, *task, seed)?)
            }
            DataSpec::AlignedPairs {
                dir,
                image_size,
                color,
            } => Arc::new(AlignedPairs::open(dir, *image_size, *color)?),
            DataSpec::FolderPairs {
                sources,
                targets,
                image_size,
                source_color,
                target_color,
            } => Arc::new(FolderPairs::open(
                sources,
                targets,
                *image_size,
                [*source_color, *target_color],
            )?),
        })
    }

    /// The classes' names in label order, or `None` when the items carry no labels. An image
    /// folder is indexed to find its class sub-folders.
    pub fn class_names(&self) -> Result<Option<Vec<String>>, TrainError> {
        Ok(match self {
            DataSpec::Idx { kind, .. } => Some(kind.class_names()),
            DataSpec::Cifar10 { .. } => Some(Cifar10::class_names()),
            DataSpec::ImageFolder {
                dir,
                image_size,
                color,
            } => ImageFolder::open(dir, *image_size, *color)?.class_names(),
            DataSpec::Toy { distribution, .. } => Some(
                (0..distribution.modes().len())
                    .map(|m| m.to_string())
                    .collect(),
            ),
            DataSpec::TaskPairs { images, .. } => images.class_names()?,
            DataSpec::Stacked { digits, .. } => digits
                .class_names()?
                .map(|names| stacked_class_names(&names)),
            DataSpec::AlignedPairs { .. } | DataSpec::FolderPairs { .. } => None,
        })
    }

    /// The one-channel items of stacked data, and the offset of their top left corner in each
    /// channel of a stacked item (the padding), when the data is stacked.
    pub fn stacked_digits(&self) -> Option<(&DataSpec, [usize; 2])> {
        let DataSpec::Stacked { digits, .. } = self else {
            return None;
        };
        let [_, h, w] = digits.item_shape();
        let [_, sh, sw] = self.item_shape();
        Some((digits, [(sh - h) / 2, (sw - w) / 2]))
    }

    /// The toy mixture, when the data is one.
    pub fn toy(&self) -> Option<ToyDistribution> {
        match self {
            DataSpec::Toy { distribution, .. } => Some(*distribution),
            _ => None,
        }
    }
}

/// Everything a run needs. Settings are named by their TOML keys in error messages
/// (`train.batch_size`), which are also the paths of these fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Experiment name: the stem of the run directory's name.
    pub name: String,
    /// The networks.
    pub architecture: Architecture,
    /// Class conditioning; `conditioning.classes` equals `class_names.len()`.
    pub conditioning: Conditioning,
    /// The classes' names in label order (empty for an unconditional run).
    pub class_names: Vec<String>,
    /// The data.
    pub data: DataSpec,
    /// The adversarial loss.
    pub loss: LossKind,
    /// A penalty on the discriminator's input gradient (WGAN-GP, R1), if any.
    #[serde(default)]
    pub penalty: Option<Penalty>,
    /// LeCam regularisation of the discriminator (Tseng et al. 2021), if any.
    #[serde(default)]
    pub lecam: Option<LeCam>,
    /// Clip every discriminator weight to `[-c, c]` after each of its steps (the original
    /// WGAN, Arjovsky et al. 2017, with c = 0.01), if set.
    #[serde(default)]
    pub weight_clip: Option<f32>,
    /// The generator's optimiser.
    pub generator_optimizer: OptimizerSpec,
    /// The discriminator's optimiser.
    pub discriminator_optimizer: OptimizerSpec,
    /// How long.
    pub length: RunLength,
    /// Real items per discriminator step.
    pub batch_size: NonZeroUsize,
    /// Discriminator steps per iteration.
    pub n_critic: NonZeroUsize,
    /// Master seed.
    pub seed: u64,
    /// Iterations between metric lines.
    pub log_every: NonZeroU64,
    /// Iterations between sample grids.
    pub sample_every: NonZeroU64,
    /// Iterations between checkpoints.
    pub checkpoint_every: NonZeroU64,
    /// Checkpoints kept.
    pub keep_checkpoints: NonZeroUsize,
    /// Samples per grid.
    pub sample_count: NonZeroUsize,
    /// What happens when training diverges.
    pub on_divergence: OnDivergence,
    /// A moving average of the generator's weights, used for samples, if one is kept.
    #[serde(default)]
    pub ema: Option<EmaSpec>,
    /// Items the discriminator scores together as one (PacGAN, Lin et al. 2018); 1 for none.
    #[serde(default = "one")]
    pub pack: usize,
    /// Spectral normalisation of the discriminator's weights (Miyato et al. 2018).
    #[serde(default)]
    pub spectral_norm: bool,
    /// Spectral normalisation of the generator's weights (SAGAN, BigGAN).
    #[serde(default)]
    pub spectral_norm_g: bool,
    /// Items per group of the discriminator's minibatch standard deviation feature (Karras
    /// et al. 2018); 0 for none.
    #[serde(default)]
    pub minibatch_std: usize,
    /// The generator's loss terms of an image-to-image architecture (`pix2pix`); its
    /// defaults when `None`.
    #[serde(default)]
    pub translation: Option<TranslationSpec>,
    /// DiffAugment of everything the discriminator scores (Zhao et al. 2020), if any.
    #[serde(default)]
    pub augment: Option<AugmentPolicy>,
    /// The adaptive probability of each augmentation of [`Self::augment`] (ADA, Karras et
    /// al. 2020); every augmentation applies with [`Self::augment_probability`] when `None`.
    #[serde(default)]
    pub adaptive_augment: Option<AdaSpec>,
    /// The fixed probability with which each augmentation of [`Self::augment`] applies to
    /// each image when it does not adapt (ADA's fixed `p`); 1 when `None`.
    #[serde(default)]
    pub augment_probability: Option<f32>,
    /// Scores computed during training, if any (and the checkpoint they rank best).
    #[serde(default)]
    pub eval: Option<EvalSpec>,
    /// The backend the run was made for (recorded; the device passed to
    /// [`run`](crate::run) is the one used).
    pub backend: BackendKind,
}

/// Refuses an adaptive augmentation whose target no `r_t` in `[-1, 1]` can cross, or whose
/// window or ramp is empty.
fn check_ada(ada: &AdaSpec) -> Result<(), TrainError> {
    if !(ada.target.is_finite() && (-1.0..1.0).contains(&ada.target)) {
        return Err(TrainError::invalid(
            "augment.target",
            ada.target,
            "must be in [-1, 1): the mean sign of D's scores on real items",
        ));
    }
    if ada.adjust_every == 0 {
        return Err(TrainError::invalid(
            "augment.adjust_every",
            0,
            "must be at least 1 discriminator step",
        ));
    }
    if ada.ramp_images == 0 {
        return Err(TrainError::invalid(
            "augment.ramp_images",
            0,
            "must be at least 1 item",
        ));
    }
    Ok(())
}

/// Refuses a fixed augmentation probability outside `(0, 1]`, or beside an adaptive one.
fn check_fixed_probability(probability: f32, adaptive: bool) -> Result<(), TrainError> {
    let reason = if adaptive {
        "is the fixed probability; an adaptive one starts at 0 and follows the discriminator: \
         leave out one of the two"
    } else if !(probability > 0.0 && probability <= 1.0) {
        "must be in (0, 1]: the chance that each augmentation applies to each image"
    } else {
        return Ok(());
    };
    Err(TrainError::invalid(
        "augment.probability",
        probability,
        reason,
    ))
}

/// Independent seeds for the parts of a run, derived from the master seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedStream {
    /// Generator weights.
    Generator = 1,
    /// Discriminator weights.
    Discriminator = 2,
    /// Data order and toy data.
    Data = 3,
    /// Training noise.
    Noise = 4,
    /// The fixed noise behind sample grids.
    FixedNoise = 5,
    /// The cells an imputation benchmark removes.
    Holes = 6,
    /// The noise and reference draw of the scores computed during training.
    Eval = 7,
    /// The factors of DiffAugment.
    Augment = 8,
}

/// SplitMix64 of the seed and the stream: well-spread, independent sub-seeds.
pub fn derive_seed(seed: u64, stream: SeedStream) -> u64 {
    let mut z = seed ^ (stream as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn one() -> usize {
    1
}

fn fmt_shape(s: [usize; 3]) -> String {
    format!("{}x{}x{}", s[0], s[1], s[2])
}

/// The TOML keys of one network's optimiser settings, for error messages.
struct OptimizerKeys {
    lr: &'static str,
    beta1: &'static str,
    beta2: &'static str,
    alpha: &'static str,
    epsilon: &'static str,
}

const GENERATOR_KEYS: OptimizerKeys = OptimizerKeys {
    lr: "optimizer.generator.lr",
    beta1: "optimizer.generator.beta1",
    beta2: "optimizer.generator.beta2",
    alpha: "optimizer.generator.alpha",
    epsilon: "optimizer.generator.epsilon",
};

const DISCRIMINATOR_KEYS: OptimizerKeys = OptimizerKeys {
    lr: "optimizer.discriminator.lr",
    beta1: "optimizer.discriminator.beta1",
    beta2: "optimizer.discriminator.beta2",
    alpha: "optimizer.discriminator.alpha",
    epsilon: "optimizer.discriminator.epsilon",
};

/// Checks an optimiser's settings: a positive learning rate and epsilon, decays in [0, 1).
fn check_optimizer(keys: &OptimizerKeys, spec: &OptimizerSpec) -> Result<(), TrainError> {
    let (lr, epsilon, decays) = match spec {
        OptimizerSpec::Adam(a) => (
            a.lr,
            a.epsilon,
            vec![(keys.beta1, a.beta1), (keys.beta2, a.beta2)],
        ),
        OptimizerSpec::RmsProp(r) => (r.lr, r.epsilon, vec![(keys.alpha, r.alpha)]),
    };
    if !(lr.is_finite() && lr > 0.0) {
        return Err(TrainError::invalid(
            keys.lr,
            lr,
            "must be a positive number",
        ));
    }
    for (key, decay) in decays {
        if !(0.0..1.0).contains(&decay) {
            return Err(TrainError::invalid(key, decay, "must be in [0, 1)"));
        }
    }
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(TrainError::invalid(
            keys.epsilon,
            epsilon,
            "must be a positive number",
        ));
    }
    Ok(())
}

impl RunSpec {
    /// Rejects impossible combinations: a name that is not a file name, empty data, a model
    /// whose samples do not match the data's items, batch normalisation on batches of one,
    /// conditioning without classes, and Adam settings out of range.
    pub fn check(&self) -> Result<(), TrainError> {
        if self.name.is_empty() || self.name.contains(['/', '\\']) {
            return Err(TrainError::invalid(
                "name",
                &self.name,
                "must be non-empty and contain no path separator",
            ));
        }
        match self.data {
            DataSpec::ImageFolder { image_size: 0, .. } => {
                return Err(TrainError::invalid(
                    "data.image_size",
                    0,
                    "must be at least 1",
                ));
            }
            DataSpec::Toy { samples: 0, .. } => {
                return Err(TrainError::invalid("data.samples", 0, "must be at least 1"));
            }
            DataSpec::Stacked { items: 0, .. } => {
                return Err(TrainError::invalid("data.items", 0, "must be at least 1"));
            }
            _ => {}
        }
        self.check_translation()?;
        let (produced, expected) = (self.architecture.item_shape(), self.data.item_shape());
        if produced != expected {
            return Err(TrainError::invalid(
                "model.image_size",
                fmt_shape(produced),
                format!(
                    "the model makes {} samples but the dataset gives {} items; set \
                     model.channels and model.image_size to match the data",
                    fmt_shape(produced),
                    fmt_shape(expected)
                ),
            ));
        }
        // pix2pix normalises maps of at least 2x2 values, so it trains on single items too.
        let uses_batch_norm = !matches!(
            self.architecture,
            Architecture::Toy(..) | Architecture::Pix2Pix(..)
        );
        if uses_batch_norm && self.batch_size.get() < 2 {
            return Err(TrainError::invalid(
                "train.batch_size",
                1,
                "this architecture uses batch normalisation, which needs at least 2 items per \
                 batch",
            ));
        }
        self.check_conditioning()?;
        self.check_penalty()?;
        self.check_pack()?;
        if self.spectral_norm_g && !self.architecture.generator_takes_spectral_norm() {
            return Err(TrainError::invalid(
                "model.spectral_norm_g",
                true,
                "normalises linear and convolution weights; this generator has transposed \
                 convolutions (mlp-mnist, sngan-resnet and toy-mlp take it)",
            ));
        }
        self.check_eval()?;
        self.check_augment()?;
        if let Some(clip) = self.weight_clip
            && !(clip.is_finite() && clip > 0.0)
        {
            return Err(TrainError::invalid(
                "loss.weight_clip",
                clip,
                "must be a positive number",
            ));
        }
        if let Some(lecam) = self.lecam {
            if !(lecam.weight.is_finite() && lecam.weight > 0.0) {
                return Err(TrainError::invalid(
                    "loss.lecam_weight",
                    lecam.weight,
                    "must be a positive number",
                ));
            }
            if !(0.0..1.0).contains(&lecam.decay) {
                return Err(TrainError::invalid(
                    "loss.lecam_decay",
                    lecam.decay,
                    "must be in [0, 1)",
                ));
            }
        }
        if let Some(ema) = self.ema
            && !(0.0..1.0).contains(&ema.beta)
        {
            return Err(TrainError::invalid(
                "ema.beta",
                ema.beta,
                "must be in [0, 1)",
            ));
        }
        if let OnDivergence::Rollback {
            lr_factor,
            max_rollbacks,
        } = self.on_divergence
        {
            if !(lr_factor > 0.0 && lr_factor < 1.0) {
                return Err(TrainError::invalid(
                    "train.rollback_lr_factor",
                    lr_factor,
                    "must be in (0, 1)",
                ));
            }
            if max_rollbacks == 0 {
                return Err(TrainError::invalid(
                    "train.max_rollbacks",
                    0,
                    "must be at least 1",
                ));
            }
        }
        check_optimizer(&GENERATOR_KEYS, &self.generator_optimizer)?;
        check_optimizer(&DISCRIMINATOR_KEYS, &self.discriminator_optimizer)
    }

    /// An image-to-image architecture needs paired data whose sources it takes, no class
    /// conditioning and no discriminator regulariser; its loss weights are non-negative and
    /// not both 0. Other architectures take no translation settings.
    fn check_translation(&self) -> Result<(), TrainError> {
        let Some(source) = self.architecture.source_channels() else {
            return match self.translation {
                Some(t) => Err(TrainError::invalid(
                    "loss.l1_weight",
                    t.l1_weight,
                    "applies to image-to-image architectures (pix2pix) only",
                )),
                None => Ok(()),
            };
        };
        match self.data.source_channels() {
            Some(data) if data == source => {}
            Some(data) => {
                return Err(TrainError::invalid(
                    "model.source_channels",
                    source,
                    format!("the data's sources have {data} channel(s)"),
                ));
            }
            None => {
                return Err(TrainError::invalid(
                    "data.pairs",
                    "none",
                    "pix2pix trains on pairs: name a pair task or a paired dataset",
                ));
            }
        }
        if self.conditioning.is_conditional() {
            return Err(TrainError::invalid(
                "model.conditioning",
                format!("{:?}", self.conditioning.method),
                "pix2pix translates images; it is not class-conditional",
            ));
        }
        let regularised = [
            ("loss.penalty", self.penalty.is_some()),
            ("loss.lecam_weight", self.lecam.is_some()),
            ("loss.weight_clip", self.weight_clip.is_some()),
        ];
        if let Some((key, _)) = regularised.into_iter().find(|(_, set)| *set) {
            return Err(TrainError::invalid(
                key,
                "set",
                "is not available for pix2pix's patch discriminator",
            ));
        }
        let t = self.translation.unwrap_or_default();
        for (key, weight) in [
            ("loss.l1_weight", t.l1_weight),
            ("loss.adversarial_weight", t.adversarial_weight),
        ] {
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(TrainError::invalid(key, weight, "must be a number >= 0"));
            }
        }
        if t.l1_weight == 0.0 && t.adversarial_weight == 0.0 {
            return Err(TrainError::invalid(
                "loss.l1_weight",
                0,
                "and loss.adversarial_weight are both 0: the generator would learn nothing",
            ));
        }
        Ok(())
    }

    /// How a translation run's items split into source and target, and its dropout; `None`
    /// for the architectures that generate from noise.
    pub fn pair_shape(&self) -> Option<PairShape> {
        PairShape::of(&self.architecture, self.data.is_masked())
    }

    fn check_augment(&self) -> Result<(), TrainError> {
        let Some(policy) = self.augment else {
            return match self.adaptive_augment {
                Some(_) => Err(TrainError::invalid(
                    "augment.adaptive",
                    true,
                    "adapts the probability of an augmentation: name one in augment.policy",
                )),
                None => Ok(()),
            };
        };
        if let Some(ada) = self.adaptive_augment {
            check_ada(&ada)?;
        }
        if let Some(p) = self.augment_probability {
            check_fixed_probability(p, self.adaptive_augment.is_some())?;
        }
        let channels = self.data.item_shape()[0];
        let reason = if policy.is_empty() {
            "name at least one augmentation"
        } else if self.data.toy().is_some() {
            "augmentations are for images, not 2-D points"
        } else if self.pair_shape().is_some() {
            "image-to-image objectives score a source and its translation together; they are \
             not augmented"
        } else if policy.pipeline.has_color() && !matches!(channels, 1 | 3) {
            "ADA's colour transforms (brightness, contrast, lumaflip, hue, saturation) are for \
             grey or RGB images"
        } else {
            return Ok(());
        };
        Err(TrainError::invalid(
            "augment.policy",
            policy.names(),
            reason,
        ))
    }

    fn check_eval(&self) -> Result<(), TrainError> {
        let Some(eval) = &self.eval else {
            return Ok(());
        };
        if self.data.toy().is_some() || self.pair_shape().is_some() {
            return Err(TrainError::invalid(
                "train.eval_every",
                eval.every,
                "scores during training are for generators of images from noise; a toy run \
                 is scored by its mode coverage at the end, a translation by `ganforge \
                 translate --report` or `ganforge inpaint --report`",
            ));
        }
        if let Some(reason) = crate::eval::unfit_metrics(&eval.metrics, &self.data) {
            return Err(TrainError::invalid(
                "eval.metrics",
                format!("{:?}", eval.metrics),
                reason,
            ));
        }
        eval.check(self.log_every.get(), self.conditioning.is_conditional())
    }

    fn check_pack(&self) -> Result<(), TrainError> {
        if self.pack == 0 {
            return Err(TrainError::invalid("model.pack", 0, "must be at least 1"));
        }
        if self.pack > 1 && self.conditioning.is_conditional() {
            return Err(TrainError::invalid(
                "model.pack",
                self.pack,
                "packing joins items of different classes: it is for unconditional networks",
            ));
        }
        if !self.batch_size.get().is_multiple_of(self.pack) {
            return Err(TrainError::invalid(
                "train.batch_size",
                self.batch_size,
                format!("must be a multiple of model.pack = {}", self.pack),
            ));
        }
        let scored = self.batch_size.get() / self.pack;
        if self.minibatch_std > 0 && !scored.is_multiple_of(self.minibatch_std) {
            return Err(TrainError::invalid(
                "model.minibatch_std",
                self.minibatch_std,
                format!(
                    "must divide the items the discriminator scores per batch (train.batch_size \
                     / model.pack = {scored})"
                ),
            ));
        }
        Ok(())
    }

    fn check_penalty(&self) -> Result<(), TrainError> {
        let Some(penalty) = self.penalty else {
            return Ok(());
        };
        let weight = penalty.weight();
        if !(weight.is_finite() && weight > 0.0) {
            return Err(TrainError::invalid(
                "loss.penalty_weight",
                weight,
                "must be a positive number",
            ));
        }
        if let Penalty::R1 { every: 0, .. } = penalty {
            return Err(TrainError::invalid(
                "loss.penalty_every",
                0,
                "must be at least 1",
            ));
        }
        if self.minibatch_std > 0 {
            return Err(TrainError::invalid(
                "loss.penalty",
                format!("{penalty:?}"),
                "needs each item's score to depend on that item alone, which \
                 model.minibatch_std prevents",
            ));
        }
        if !self.architecture.has_input_gradient() {
            return Err(TrainError::invalid(
                "loss.penalty",
                format!("{penalty:?}"),
                "needs a discriminator whose input gradient is written out as tensor \
                 operations: mlp-mnist, dcgan-mnist, sngan-resnet or toy-mlp (dcgan's uses \
                 batch normalisation, so an item's score depends on the batch)",
            ));
        }
        Ok(())
    }

    fn check_conditioning(&self) -> Result<(), TrainError> {
        let c = &self.conditioning;
        if !c.is_conditional() {
            return Ok(());
        }
        if c.classes != self.class_names.len() {
            return Err(TrainError::invalid(
                "model.conditioning",
                format!("{} classes", c.classes),
                format!("but {} class names", self.class_names.len()),
            ));
        }
        if c.classes < 2 || c.embed_dim == 0 {
            return Err(TrainError::invalid(
                "model.conditioning",
                format!("{} classes, embed_dim {}", c.classes, c.embed_dim),
                "needs at least 2 classes and an embedding of at least 1",
            ));
        }
        Ok(())
    }

    /// Total iterations for a dataset with `batches_per_epoch` full batches.
    pub fn total_iterations(&self, batches_per_epoch: u64) -> u64 {
        match self.length {
            RunLength::Steps(s) => s.get(),
            RunLength::Epochs(e) => {
                (e.get() * batches_per_epoch / self.n_critic.get() as u64).max(1)
            }
        }
    }

    /// What the networks are built from.
    pub fn gan_spec(&self) -> GanSpec {
        GanSpec {
            architecture: self.architecture.clone(),
            conditioning: self.conditioning,
            generator_optimizer: self.generator_optimizer,
            discriminator_optimizer: self.discriminator_optimizer,
            ema: self.ema,
            pack: self.pack,
            spectral_norm: self.spectral_norm,
            generator_options: self.generator_options(),
            minibatch_std: self.minibatch_std,
            lecam: self.lecam,
            ada: self.adaptive_augment,
        }
    }

    /// How the generator is built beyond its architecture.
    pub fn generator_options(&self) -> GeneratorOptions {
        GeneratorOptions {
            spectral_norm: self.spectral_norm_g,
        }
    }

    /// The seeds of the initial weights.
    pub fn init_seeds(&self) -> InitSeeds {
        InitSeeds {
            generator: derive_seed(self.seed, SeedStream::Generator),
            discriminator: derive_seed(self.seed, SeedStream::Discriminator),
        }
    }

    /// What each iteration does: pix2pix's translation for an image-to-image architecture,
    /// else the unconditional GAN or the class-conditional one (with AC-GAN's
    /// classification term at weight 1, as Odena et al.).
    pub fn objective(&self) -> Box<dyn Objective> {
        let latent_dim = self.architecture.latent_dim();
        let loss = self.loss.build();
        let regularisers = Regularisers {
            penalty: self.penalty,
            lecam: self.lecam,
            weight_clip: self.weight_clip,
            augment: self.augment.map(|policy| Augmentation {
                policy,
                seed: derive_seed(self.seed, SeedStream::Augment),
                adaptive: self.adaptive_augment.is_some(),
                probability: self.augment_probability.unwrap_or(1.0),
            }),
        };
        if let Some(pairs) = self.pair_shape() {
            let weights = self.translation.unwrap_or_default();
            return Box::new(Translation::new(loss, weights, latent_dim, pairs));
        }
        match self.conditioning.method {
            ConditioningMethod::None => Box::new(Unconditional {
                loss,
                regularisers,
                latent_dim,
            }),
            method => Box::new(ClassConditional {
                loss,
                regularisers,
                latent_dim,
                classes: self.conditioning.classes,
                class_weight: (method == ConditioningMethod::Acgan).then_some(1.0),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_per_stream() {
        let a = derive_seed(0, SeedStream::Generator);
        let b = derive_seed(0, SeedStream::Discriminator);
        assert_ne!(a, b);
        assert_eq!(a, derive_seed(0, SeedStream::Generator));
        assert_ne!(a, derive_seed(1, SeedStream::Generator));
    }
}
