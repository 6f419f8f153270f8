//! Validation: a [`RawConfig`] becomes a [`TrainPlan`] whose every value is known to be
//! possible, or an error that names the offending key.

use std::num::{NonZeroU64, NonZeroUsize};
use std::path::PathBuf;
use std::sync::Arc;

use ganforge_backend::BackendKind;
use ganforge_data::{
    Cifar10, Cifar10Source, ColorMode, Dataset, IdxDataset, IdxKind, ImageFolder, LocateOptions,
    Split, ToyDataset, ToyDistribution, locate,
};
use ganforge_models::{
    Architecture, Conditioning, ConditioningMethod, DcganDiscriminatorConfig, DcganGeneratorConfig,
    DcganMnistDiscriminatorConfig, DcganMnistGeneratorConfig, MlpDiscriminatorConfig,
    MlpGeneratorConfig, ToyDiscriminatorConfig, ToyGeneratorConfig,
};

use crate::config::{
    AdamSection, ColorName, ConditioningName, DataSection, LossSection, ModelSection, RawConfig,
    SplitName,
};
use crate::error::{ConfigError, TrainError};
use crate::objective::{AdamSpec, ClassConditional, GanSpec, InitSeeds, Objective, Unconditional};

/// How long a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunLength {
    /// Passes over the data.
    Epochs(NonZeroU64),
    /// Iterations (one generator step and `n_critic` discriminator steps each).
    Steps(NonZeroU64),
}

/// The dataset to open, with its paths resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum DataPlan {
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
}

impl DataPlan {
    /// Shape `[C, H, W]` of the items this dataset yields.
    pub fn item_shape(&self) -> [usize; 3] {
        match self {
            DataPlan::Idx { .. } => [1, 28, 28],
            DataPlan::Cifar10 { .. } => [3, 32, 32],
            DataPlan::ImageFolder {
                image_size, color, ..
            } => [color.channels(), *image_size, *image_size],
            DataPlan::Toy { .. } => [2, 1, 1],
        }
    }

    /// Finds (or downloads) and opens the dataset.
    pub fn open(&self, seed: u64) -> Result<Arc<dyn Dataset>, TrainError> {
        Ok(match self {
            DataPlan::Idx { kind, split, dir } => {
                let options = LocateOptions::from_env(dir.clone());
                let (found, _) = locate(kind, *split, &options)?;
                Arc::new(IdxDataset::open(&found, *kind, *split)?)
            }
            DataPlan::Cifar10 { split, dir } => {
                let options = LocateOptions::from_env(dir.clone());
                let (found, _) = locate(&Cifar10Source, *split, &options)?;
                Arc::new(Cifar10::open(&found, *split)?)
            }
            DataPlan::ImageFolder {
                dir,
                image_size,
                color,
            } => Arc::new(ImageFolder::open(dir, *image_size, *color)?),
            DataPlan::Toy {
                distribution,
                samples,
            } => Arc::new(ToyDataset::new(*distribution, *samples, seed)?),
        })
    }

    /// The classes' names in label order, or `None` when the items carry no labels. An image
    /// folder is indexed to find its class sub-folders.
    pub fn class_names(&self) -> Result<Option<Vec<String>>, TrainError> {
        Ok(match self {
            DataPlan::Idx { kind, .. } => Some(kind.class_names()),
            DataPlan::Cifar10 { .. } => Some(Cifar10::class_names()),
            DataPlan::ImageFolder {
                dir,
                image_size,
                color,
            } => ImageFolder::open(dir, *image_size, *color)?.class_names(),
            DataPlan::Toy { distribution, .. } => Some(
                (0..distribution.modes().len())
                    .map(|m| m.to_string())
                    .collect(),
            ),
        })
    }

    /// The toy mixture, when the data is one.
    pub fn toy(&self) -> Option<ToyDistribution> {
        match self {
            DataPlan::Toy { distribution, .. } => Some(*distribution),
            _ => None,
        }
    }
}

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct TrainPlan {
    /// The resolved configuration (name and backend filled in).
    pub config: RawConfig,
    /// Experiment name.
    pub name: String,
    /// The networks.
    pub architecture: Architecture,
    /// Class conditioning (classes counted from the data).
    pub conditioning: Conditioning,
    /// The classes' names in label order (empty for an unconditional run).
    pub class_names: Vec<String>,
    /// The data.
    pub data: DataPlan,
    /// The objective.
    pub loss: LossSection,
    /// The generator's optimiser.
    pub generator_optimizer: AdamSpec,
    /// The discriminator's optimiser.
    pub discriminator_optimizer: AdamSpec,
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
    /// Where it runs.
    pub backend: BackendKind,
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
}

/// SplitMix64 of the seed and the stream: well-spread, independent sub-seeds.
pub fn derive_seed(seed: u64, stream: SeedStream) -> u64 {
    let mut z = seed ^ (stream as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn nonzero_u64(key: &'static str, value: u64) -> Result<NonZeroU64, ConfigError> {
    NonZeroU64::new(value).ok_or(ConfigError::Invalid {
        key,
        value: value.to_string(),
        reason: "must be at least 1".into(),
    })
}

fn nonzero_usize(key: &'static str, value: usize) -> Result<NonZeroUsize, ConfigError> {
    NonZeroUsize::new(value).ok_or(ConfigError::Invalid {
        key,
        value: value.to_string(),
        reason: "must be at least 1".into(),
    })
}

fn adam(keys: [&'static str; 4], a: &AdamSection) -> Result<AdamSpec, ConfigError> {
    let invalid = |key, value: String, reason: &str| ConfigError::Invalid {
        key,
        value,
        reason: reason.into(),
    };
    if !(a.lr.is_finite() && a.lr > 0.0) {
        return Err(invalid(
            keys[0],
            a.lr.to_string(),
            "must be a positive number",
        ));
    }
    for (key, beta) in [(keys[1], a.beta1), (keys[2], a.beta2)] {
        if !(0.0..1.0).contains(&beta) {
            return Err(invalid(key, beta.to_string(), "must be in [0, 1)"));
        }
    }
    if !(a.epsilon.is_finite() && a.epsilon > 0.0) {
        return Err(invalid(
            keys[3],
            a.epsilon.to_string(),
            "must be a positive number",
        ));
    }
    Ok(AdamSpec {
        lr: a.lr,
        beta1: a.beta1,
        beta2: a.beta2,
        epsilon: a.epsilon,
    })
}

/// The model configs a `[model]` section describes.
pub fn architecture(model: &ModelSection) -> Architecture {
    match model.clone() {
        ModelSection::MlpMnist {
            latent_dim,
            g_hidden,
            d_hidden,
            channels,
            image_size,
            ..
        } => {
            let sample_shape = [channels, image_size, image_size];
            Architecture::Mlp(
                MlpGeneratorConfig {
                    latent_dim,
                    hidden: g_hidden,
                    sample_shape,
                },
                MlpDiscriminatorConfig {
                    sample_shape,
                    hidden: d_hidden,
                },
            )
        }
        ModelSection::DcganMnist {
            latent_dim,
            g_width,
            d_width,
            channels,
            image_size,
            ..
        } => Architecture::DcganMnist(
            DcganMnistGeneratorConfig {
                latent_dim,
                width: g_width,
                channels,
                image_size,
            },
            DcganMnistDiscriminatorConfig {
                width: d_width,
                channels,
                image_size,
            },
        ),
        ModelSection::Dcgan {
            latent_dim,
            g_width,
            d_width,
            channels,
            image_size,
            ..
        } => Architecture::Dcgan(
            DcganGeneratorConfig {
                latent_dim,
                width: g_width,
                channels,
                image_size,
            },
            DcganDiscriminatorConfig {
                width: d_width,
                channels,
                image_size,
            },
        ),
        ModelSection::ToyMlp {
            latent_dim,
            width,
            depth,
            ..
        } => Architecture::Toy(
            ToyGeneratorConfig {
                latent_dim,
                width,
                depth,
            },
            ToyDiscriminatorConfig {
                width,
                depth,
                ..ToyDiscriminatorConfig::default()
            },
        ),
    }
}

/// The dataset a `[data]` section describes.
pub(crate) fn data_plan(data: &DataSection) -> DataPlan {
    let split = |s: SplitName| match s {
        SplitName::Train => Split::Train,
        SplitName::Test => Split::Test,
    };
    match data.clone() {
        DataSection::Mnist { dir, split: s } => DataPlan::Idx {
            kind: IdxKind::Mnist,
            split: split(s),
            dir,
        },
        DataSection::FashionMnist { dir, split: s } => DataPlan::Idx {
            kind: IdxKind::FashionMnist,
            split: split(s),
            dir,
        },
        DataSection::Cifar10 { dir, split: s } => DataPlan::Cifar10 {
            split: split(s),
            dir,
        },
        DataSection::ImageFolder {
            dir,
            image_size,
            color,
        } => DataPlan::ImageFolder {
            dir,
            image_size,
            color: match color {
                ColorName::Grey => ColorMode::Grey,
                ColorName::Rgb => ColorMode::Rgb,
            },
        },
        DataSection::ToyRing8 { samples } => DataPlan::Toy {
            distribution: ToyDistribution::Ring8,
            samples,
        },
        DataSection::ToyGrid25 { samples } => DataPlan::Toy {
            distribution: ToyDistribution::Grid25,
            samples,
        },
    }
}

fn fmt_shape(s: [usize; 3]) -> String {
    format!("{}x{}x{}", s[0], s[1], s[2])
}

impl TrainPlan {
    /// Checks `config`; `backend` (from the command line) overrides the config's `run.backend`,
    /// and `data_dir` (from `--data`) its `data.dir`.
    pub fn new(
        mut config: RawConfig,
        backend: Option<BackendKind>,
        data_dir: Option<PathBuf>,
    ) -> Result<Self, TrainError> {
        let backend = match backend {
            Some(b) => b,
            None => match &config.run.backend {
                Some(name) => name.parse()?,
                None => ganforge_backend::default_kind().ok_or(ConfigError::Invalid {
                    key: "run.backend",
                    value: "none".into(),
                    reason: "this build has no backend compiled in".into(),
                })?,
            },
        };
        config.run.backend = Some(backend.name().to_string());
        config.run.git_revision = Some(env!("GANFORGE_GIT_REVISION").to_string());
        config.run.version = Some(env!("CARGO_PKG_VERSION").to_string());
        if let Some(dir) = data_dir {
            match config.data.dir_mut() {
                Some(slot) => *slot = Some(dir),
                None => match &mut config.data {
                    DataSection::ImageFolder { dir: slot, .. } => *slot = dir,
                    _ => {
                        return Err(ConfigError::Invalid {
                            key: "data.dir",
                            value: dir.display().to_string(),
                            reason: "this dataset is generated and reads no directory".into(),
                        }
                        .into());
                    }
                },
            }
        }
        let name = config.name.clone().unwrap_or_else(|| "run".to_string());
        if name.is_empty() || name.contains(['/', '\\']) {
            return Err(ConfigError::Invalid {
                key: "name",
                value: name,
                reason: "must be non-empty and contain no path separator".into(),
            }
            .into());
        }
        let t = &config.train;
        let length = match t.steps {
            Some(steps) => RunLength::Steps(nonzero_u64("train.steps", steps)?),
            None => RunLength::Epochs(nonzero_u64("train.epochs", t.epochs)?),
        };
        let architecture = architecture(&config.model);
        let data = data_plan(&config.data);
        if let DataPlan::ImageFolder { image_size: 0, .. } = data {
            return Err(ConfigError::Invalid {
                key: "data.image_size",
                value: "0".into(),
                reason: "must be at least 1".into(),
            }
            .into());
        }
        if let DataPlan::Toy { samples: 0, .. } = data {
            return Err(ConfigError::Invalid {
                key: "data.samples",
                value: "0".into(),
                reason: "must be at least 1".into(),
            }
            .into());
        }
        let produced = architecture.sample_shape();
        let expected = data.item_shape();
        if produced != expected {
            return Err(ConfigError::Invalid {
                key: "model.image_size",
                value: fmt_shape(produced),
                reason: format!(
                    "the model makes {} samples but the dataset gives {} items; set \
                     model.channels and model.image_size to match the data",
                    fmt_shape(produced),
                    fmt_shape(expected)
                ),
            }
            .into());
        }
        let batch_size = nonzero_usize("train.batch_size", t.batch_size)?;
        let uses_batch_norm = !matches!(architecture, Architecture::Toy(..));
        if uses_batch_norm && batch_size.get() < 2 {
            return Err(ConfigError::Invalid {
                key: "train.batch_size",
                value: "1".into(),
                reason: "this architecture uses batch normalisation, which needs at least 2 \
                         items per batch"
                    .into(),
            }
            .into());
        }
        let (method, embed_dim) = config.model.conditioning();
        let class_names = match method {
            ConditioningName::None => Vec::new(),
            _ => data.class_names()?.ok_or_else(|| ConfigError::Invalid {
                key: "model.conditioning",
                value: format!("{method:?}").to_lowercase(),
                reason: "the dataset's items carry no class labels (an image folder needs \
                         every picture in a class sub-folder)"
                    .into(),
            })?,
        };
        let conditioning =
            Conditioning::new(method.method(), class_names.len()).with_embed_dim(embed_dim);
        if conditioning.is_conditional() && (class_names.len() < 2 || embed_dim == 0) {
            return Err(ConfigError::Invalid {
                key: "model.conditioning",
                value: format!("{} classes, embed_dim {embed_dim}", class_names.len()),
                reason: "needs at least 2 classes and an embedding of at least 1".into(),
            }
            .into());
        }
        Ok(Self {
            name,
            conditioning,
            class_names,
            generator_optimizer: adam(
                [
                    "optimizer.generator.lr",
                    "optimizer.generator.beta1",
                    "optimizer.generator.beta2",
                    "optimizer.generator.epsilon",
                ],
                &config.optimizer.generator,
            )?,
            discriminator_optimizer: adam(
                [
                    "optimizer.discriminator.lr",
                    "optimizer.discriminator.beta1",
                    "optimizer.discriminator.beta2",
                    "optimizer.discriminator.epsilon",
                ],
                &config.optimizer.discriminator,
            )?,
            loss: config.loss,
            length,
            batch_size,
            n_critic: nonzero_usize("train.n_critic", t.n_critic)?,
            seed: t.seed,
            log_every: nonzero_u64("train.log_every", t.log_every)?,
            sample_every: nonzero_u64("train.sample_every", t.sample_every)?,
            checkpoint_every: nonzero_u64("train.checkpoint_every", t.checkpoint_every)?,
            keep_checkpoints: nonzero_usize("train.keep_checkpoints", t.keep_checkpoints)?,
            sample_count: nonzero_usize("train.sample_count", t.sample_count)?,
            architecture,
            data,
            backend,
            config,
        })
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
        }
    }

    /// The seeds of the initial weights.
    pub fn init_seeds(&self) -> InitSeeds {
        InitSeeds {
            generator: derive_seed(self.seed, SeedStream::Generator),
            discriminator: derive_seed(self.seed, SeedStream::Discriminator),
        }
    }

    /// What each iteration does: the unconditional GAN, or the class-conditional one (with
    /// AC-GAN's classification term at weight 1, as Odena et al.).
    pub fn objective(&self) -> Box<dyn Objective> {
        let latent_dim = self.architecture.latent_dim();
        let loss = self.loss_fn();
        match self.conditioning.method {
            ConditioningMethod::None => Box::new(Unconditional { loss, latent_dim }),
            method => Box::new(ClassConditional {
                loss,
                latent_dim,
                classes: self.conditioning.classes,
                class_weight: (method == ConditioningMethod::Acgan).then_some(1.0),
            }),
        }
    }

    /// The adversarial loss.
    pub fn loss_fn(&self) -> Box<dyn ganforge_losses::AdversarialLoss> {
        match self.loss {
            LossSection::NonSaturating => Box::new(ganforge_losses::NonSaturating),
            LossSection::Minimax => Box::new(ganforge_losses::Minimax),
            LossSection::Hinge => Box::new(ganforge_losses::Hinge),
            LossSection::LeastSquares => Box::new(ganforge_losses::LeastSquares),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(extra: &[&str]) -> Result<TrainPlan, TrainError> {
        let text = "[model]\narchitecture = \"dcgan-mnist\"\n[data]\ndataset = \"mnist\"\n";
        let overrides: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let config = RawConfig::parse(text, &overrides)?;
        TrainPlan::new(config, Some(BackendKind::Flex), None)
    }

    #[test]
    fn valid_plan() {
        let p = plan(&[]).unwrap();
        assert_eq!(p.total_iterations(937), 5 * 937);
        assert_eq!(p.config.run.backend.as_deref(), Some("flex"));
        let p = plan(&["train.steps=10"]).unwrap();
        assert_eq!(p.total_iterations(937), 10);
    }

    #[test]
    fn impossible_values_name_their_key() {
        for (set, key) in [
            ("train.batch_size=0", "train.batch_size"),
            ("train.batch_size=1", "train.batch_size"),
            ("optimizer.generator.lr=-1", "optimizer.generator.lr"),
            (
                "optimizer.discriminator.beta2=1.0",
                "optimizer.discriminator.beta2",
            ),
            ("train.n_critic=0", "train.n_critic"),
            ("model.image_size=32", "model.image_size"),
        ] {
            let err = plan(&[set]).unwrap_err().to_string();
            assert!(err.contains(key), "{set}: {err}");
        }
    }

    #[test]
    fn seeds_differ_per_stream() {
        let a = derive_seed(0, SeedStream::Generator);
        let b = derive_seed(0, SeedStream::Discriminator);
        assert_ne!(a, b);
        assert_eq!(a, derive_seed(0, SeedStream::Generator));
        assert_ne!(a, derive_seed(1, SeedStream::Generator));
    }
}
