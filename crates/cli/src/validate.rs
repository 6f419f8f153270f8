//! Validation: a [`RawConfig`] becomes a [`RunSpec`] whose every value is known to be
//! possible, or an error that names the offending key.

use std::num::{NonZeroU64, NonZeroUsize};
use std::path::PathBuf;

use ganforge_backend::BackendKind;
use ganforge_data::{ColorMode, IdxKind, PairTask, Split, ToyDistribution};
use ganforge_losses::{LeCam, LossKind, Penalty};
use ganforge_models::{
    Architecture, AugmentPolicy, Conditioning, DcganDiscriminatorConfig, DcganGeneratorConfig,
    DcganMnistDiscriminatorConfig, DcganMnistGeneratorConfig, MlpDiscriminatorConfig,
    MlpGeneratorConfig, NormKind, PatchGanDiscriminatorConfig, ResnetDiscriminatorConfig,
    ResnetGeneratorConfig, ToyDiscriminatorConfig, ToyGeneratorConfig, UnetGeneratorConfig,
};
use ganforge_trainer::eval::{EvalSpec, ExtractorKind, ExtractorSpec};
use ganforge_trainer::inception::InceptionWeights;
use ganforge_trainer::translation::TranslationSpec;
use ganforge_trainer::{AdaSpec, DataSpec, EmaSpec, OnDivergence, RunLength, RunSpec, TrainError};

use crate::config::{
    ColorName, ConditioningName, DataSection, DivergenceName, EvalSection, LossName, LossSection,
    ModelSection, NormName, PairsSection, PenaltyName, RawConfig, SplitName,
};
use crate::error::CliError;

fn nonzero_u64(key: &'static str, value: u64) -> Result<NonZeroU64, TrainError> {
    NonZeroU64::new(value).ok_or_else(|| TrainError::invalid(key, value, "must be at least 1"))
}

fn nonzero_usize(key: &'static str, value: usize) -> Result<NonZeroUsize, TrainError> {
    NonZeroUsize::new(value).ok_or_else(|| TrainError::invalid(key, value, "must be at least 1"))
}

fn loss(section: LossSection) -> LossKind {
    match section.kind {
        LossName::NonSaturating => LossKind::NonSaturating,
        LossName::Minimax => LossKind::Minimax,
        LossName::Hinge => LossKind::Hinge,
        LossName::LeastSquares => LossKind::LeastSquares,
        LossName::Wasserstein => LossKind::Wasserstein,
    }
}

fn penalty(section: LossSection) -> Option<Penalty> {
    let weight = section.penalty_weight;
    section.penalty.map(|name| match name {
        PenaltyName::Gradient => Penalty::Gradient { weight },
        PenaltyName::R1 => Penalty::R1 {
            weight,
            every: section.penalty_every,
        },
    })
}

/// Fills in what the command line decides: `backend` (from `--backend`) overrides
/// `run.backend`, `data_dir` (from `--data`) overrides `data.dir`, the version is recorded, and
/// a defaulted `eval.best` is written out.
/// The result, written back as TOML, is the run's `resolved.toml`.
pub fn resolve(
    config: &mut RawConfig,
    backend: Option<BackendKind>,
    data_dir: Option<PathBuf>,
) -> Result<BackendKind, CliError> {
    let backend = match backend {
        Some(b) => b,
        None => match &config.run.backend {
            Some(name) => name.parse()?,
            None => ganforge_backend::default_kind().ok_or_else(|| {
                TrainError::invalid(
                    "run.backend",
                    "none",
                    "this build has no backend compiled in",
                )
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
                    return Err(TrainError::invalid(
                        "data.dir",
                        dir.display(),
                        "this dataset is generated and reads no directory",
                    )
                    .into());
                }
            },
        }
    }
    // The ranking score, when defaulted, is written out like every other default.
    if let Some(eval) = &mut config.eval
        && eval.best.is_none()
    {
        eval.best = Some(EvalSpec::default_best(&eval.metrics, eval.extractor));
    }
    Ok(backend)
}

/// The run a resolved configuration describes, checked ([`RunSpec::check`]). The classes of
/// a conditional run are read from the data.
pub fn run_spec(config: &RawConfig, backend: BackendKind) -> Result<RunSpec, CliError> {
    let t = &config.train;
    let length = match t.steps {
        Some(steps) => RunLength::Steps(nonzero_u64("train.steps", steps)?),
        None => RunLength::Epochs(nonzero_u64("train.epochs", t.epochs)?),
    };
    let data = data_spec(&config.data, config.pairs);
    let (method, embed_dim) = config.model.conditioning();
    let class_names = match method {
        ConditioningName::None => Vec::new(),
        _ => data.class_names()?.ok_or_else(|| {
            TrainError::invalid(
                "model.conditioning",
                format!("{method:?}").to_lowercase(),
                "the dataset's items carry no class labels (an image folder needs every \
                 picture in a class sub-folder)",
            )
        })?,
    };
    let spec = RunSpec {
        name: config.name.clone().unwrap_or_else(|| "run".to_string()),
        architecture: architecture(&config.model, &data),
        conditioning: Conditioning::new(method.method(), class_names.len())
            .with_embed_dim(embed_dim),
        class_names,
        data,
        loss: loss(config.loss),
        penalty: penalty(config.loss),
        weight_clip: config.loss.weight_clip,
        lecam: config.loss.lecam_weight.map(|weight| LeCam {
            weight,
            decay: config.loss.lecam_decay,
        }),
        generator_optimizer: config.optimizer.generator.0,
        discriminator_optimizer: config.optimizer.discriminator.0,
        length,
        batch_size: nonzero_usize("train.batch_size", t.batch_size)?,
        n_critic: nonzero_usize("train.n_critic", t.n_critic)?,
        seed: t.seed,
        log_every: nonzero_u64("train.log_every", t.log_every)?,
        sample_every: nonzero_u64("train.sample_every", t.sample_every)?,
        checkpoint_every: nonzero_u64("train.checkpoint_every", t.checkpoint_every)?,
        keep_checkpoints: nonzero_usize("train.keep_checkpoints", t.keep_checkpoints)?,
        sample_count: nonzero_usize("train.sample_count", t.sample_count)?,
        on_divergence: match t.on_divergence {
            DivergenceName::Stop => OnDivergence::Stop,
            DivergenceName::Rollback => OnDivergence::Rollback {
                lr_factor: t.rollback_lr_factor,
                max_rollbacks: t.max_rollbacks,
            },
        },
        pack: config.model.pack(),
        spectral_norm: config.model.spectral_norm(),
        spectral_norm_g: config.model.spectral_norm_g(),
        minibatch_std: config.model.minibatch_std(),
        translation: translation(config.loss),
        augment: augment(config)?,
        adaptive_augment: adaptive_augment(config)?,
        augment_probability: config.augment.as_ref().and_then(|a| a.probability),
        eval: eval(config)?,
        ema: config.ema.map(|e| EmaSpec {
            beta: e.beta,
            start: e.start,
        }),
        backend,
    };
    spec.check()?;
    Ok(spec)
}

/// The augmentations `[augment]` names.
fn augment(config: &RawConfig) -> Result<Option<AugmentPolicy>, TrainError> {
    let Some(section) = &config.augment else {
        return Ok(None);
    };
    AugmentPolicy::parse(&section.policy)
        .map(Some)
        .map_err(|reason| TrainError::invalid("augment.policy", &section.policy, reason))
}

/// The adaptive probability `[augment] adaptive = true` asks for, ADA's defaults where a key
/// is left out; its keys without `adaptive` are refused by name.
fn adaptive_augment(config: &RawConfig) -> Result<Option<AdaSpec>, TrainError> {
    let Some(section) = &config.augment else {
        return Ok(None);
    };
    if !section.adaptive {
        let set = [
            ("augment.target", section.target.is_some()),
            ("augment.adjust_every", section.adjust_every.is_some()),
            ("augment.ramp_images", section.ramp_images.is_some()),
        ];
        return match set.into_iter().find(|(_, set)| *set) {
            Some((key, _)) => Err(TrainError::invalid(
                key,
                "set",
                "tunes the adaptive probability: add augment.adaptive = true",
            )),
            None => Ok(None),
        };
    }
    let default = AdaSpec::DEFAULT;
    Ok(Some(AdaSpec {
        target: section.target.unwrap_or(default.target),
        adjust_every: section.adjust_every.unwrap_or(default.adjust_every),
        ramp_images: section.ramp_images.unwrap_or(default.ramp_images),
    }))
}

/// The scores of `[eval]`, computed every `train.eval_every` iterations; the two come together.
fn eval(config: &RawConfig) -> Result<Option<EvalSpec>, TrainError> {
    let section = match (config.train.eval_every, &config.eval) {
        (None, None) => return Ok(None),
        (Some(every), Some(section)) => (every, section),
        (Some(every), None) => {
            return Err(TrainError::invalid(
                "train.eval_every",
                every,
                "needs an [eval] section naming the features that score the samples \
                 (eval.classifier, a directory written by `ganforge classify train`, or \
                 eval.extractor = \"inception\")",
            ));
        }
        (None, Some(section)) => {
            return Err(TrainError::invalid(
                "eval",
                section.extractor.name(),
                "set train.eval_every to say how often to score the run",
            ));
        }
    };
    let (every, section) = section;
    let mut spec = EvalSpec::new(
        nonzero_u64("train.eval_every", every)?,
        eval_extractor(section)?,
        section.metrics.clone(),
    );
    spec.samples = section.samples;
    spec.reference = split(section.reference);
    if let Some(best) = &section.best {
        spec.best = best.clone();
    }
    Ok(Some(spec))
}

/// The extractor `[eval]` names: a classifier directory, or the Inception weights.
fn eval_extractor(section: &EvalSection) -> Result<ExtractorSpec, TrainError> {
    let only_for = |key, value: &PathBuf, extractor| {
        TrainError::invalid(
            key,
            value.display(),
            format!("set only with eval.extractor = \"{extractor}\""),
        )
    };
    match (
        section.extractor,
        &section.classifier,
        &section.inception_weights,
    ) {
        (ExtractorKind::Classifier, Some(classifier), None) => {
            Ok(ExtractorSpec::Classifier(classifier.clone()))
        }
        (ExtractorKind::Classifier, None, _) => Err(TrainError::invalid(
            "eval.classifier",
            "(unset)",
            "name the classifier directory whose features score the samples (written by \
             `ganforge classify train`), or set eval.extractor = \"inception\"",
        )),
        (ExtractorKind::Classifier, Some(_), Some(weights)) => {
            Err(only_for("eval.inception_weights", weights, "inception"))
        }
        (ExtractorKind::Inception, Some(classifier), _) => {
            Err(only_for("eval.classifier", classifier, "classifier"))
        }
        (ExtractorKind::Inception, None, weights) => Ok(ExtractorSpec::Inception(
            InceptionWeights::Published(weights.clone()),
        )),
    }
}

/// The generator's loss weights of an image-to-image run, when `[loss]` sets either.
fn translation(loss: LossSection) -> Option<TranslationSpec> {
    if loss.l1_weight.is_none() && loss.adversarial_weight.is_none() {
        return None;
    }
    let defaults = TranslationSpec::default();
    Some(TranslationSpec {
        l1_weight: loss.l1_weight.unwrap_or(defaults.l1_weight),
        adversarial_weight: loss
            .adversarial_weight
            .unwrap_or(defaults.adversarial_weight),
    })
}

/// The model configs a `[model]` section describes, for `data` (a translating model takes
/// its channels from the data's pairs).
pub fn architecture(model: &ModelSection, data: &DataSpec) -> Architecture {
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
        ModelSection::SnganResnet {
            latent_dim,
            g_width,
            d_width,
            channels,
            image_size,
            ..
        } => Architecture::Resnet(
            ResnetGeneratorConfig {
                latent_dim,
                width: g_width,
                channels,
                image_size,
            },
            ResnetDiscriminatorConfig {
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
        ModelSection::Pix2pix {
            image_size,
            g_width,
            d_width,
            d_layers,
            norm,
            dropout,
        } => {
            let norm = match norm {
                NormName::Batch => NormKind::Batch,
                NormName::Instance => NormKind::Instance,
            };
            // An unpaired dataset gets no source channels; `RunSpec::check` names it.
            let source = data.source_channels().unwrap_or(0);
            let target = data.item_shape()[0].saturating_sub(source);
            let generator = UnetGeneratorConfig {
                width: g_width,
                norm,
                dropout,
                ..UnetGeneratorConfig::new(source, target, image_size)
            };
            let scaled = PatchGanDiscriminatorConfig::new(source + target, image_size);
            let discriminator = PatchGanDiscriminatorConfig {
                width: d_width,
                layers: d_layers.unwrap_or(scaled.layers),
                norm,
                ..scaled
            };
            Architecture::Pix2Pix(generator, discriminator)
        }
    }
}

/// The dataset a `[data]` section describes, made into pairs when `[pairs]` names a task.
pub fn data_spec(data: &DataSection, pairs: Option<PairsSection>) -> DataSpec {
    let images = image_data_spec(data);
    let Some(pairs) = pairs else {
        return images;
    };
    let (task, pad_to) = match pairs {
        PairsSection::Edges { pad_to } => (PairTask::Edges, pad_to),
        PairsSection::Colorize { pad_to } => (PairTask::Colorize, pad_to),
        PairsSection::Upscale { factor, pad_to } => (PairTask::Upscale { factor }, pad_to),
        PairsSection::Masked { hole, mask, pad_to } => {
            (PairTask::Masked { hole, shape: mask }, pad_to)
        }
    };
    DataSpec::TaskPairs {
        images: Box::new(images),
        task,
        pad_to,
    }
}

fn color_mode(color: ColorName) -> ColorMode {
    match color {
        ColorName::Grey => ColorMode::Grey,
        ColorName::Rgb => ColorMode::Rgb,
    }
}

fn split(name: SplitName) -> Split {
    match name {
        SplitName::Train => Split::Train,
        SplitName::Test => Split::Test,
    }
}

/// The dataset of a `[data]` section alone.
fn image_data_spec(data: &DataSection) -> DataSpec {
    match data.clone() {
        DataSection::Mnist { dir, split: s } => DataSpec::Idx {
            kind: IdxKind::Mnist,
            split: split(s),
            dir,
        },
        DataSection::FashionMnist { dir, split: s } => DataSpec::Idx {
            kind: IdxKind::FashionMnist,
            split: split(s),
            dir,
        },
        DataSection::StackedMnist {
            dir,
            split: s,
            items,
            image_size,
        } => DataSpec::Stacked {
            digits: Box::new(DataSpec::Idx {
                kind: IdxKind::Mnist,
                split: split(s),
                dir,
            }),
            items,
            pad_to: Some(image_size),
        },
        DataSection::Cifar10 { dir, split: s } => DataSpec::Cifar10 {
            split: split(s),
            dir,
        },
        DataSection::ImageFolder {
            dir,
            image_size,
            color,
        } => DataSpec::ImageFolder {
            dir,
            image_size,
            color: color_mode(color),
        },
        DataSection::ToyRing8 { samples } => DataSpec::Toy {
            distribution: ToyDistribution::Ring8,
            samples,
        },
        DataSection::ToyGrid25 { samples } => DataSpec::Toy {
            distribution: ToyDistribution::Grid25,
            samples,
        },
        DataSection::AlignedPairs {
            dir,
            image_size,
            color,
        } => DataSpec::AlignedPairs {
            dir,
            image_size,
            color: color_mode(color),
        },
        DataSection::FolderPairs {
            sources,
            targets,
            image_size,
            source_color,
            target_color,
        } => DataSpec::FolderPairs {
            sources,
            targets,
            image_size,
            source_color: color_mode(source_color),
            target_color: color_mode(target_color),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &[&str]) -> Result<(RawConfig, RunSpec), CliError> {
        let text = "[model]\narchitecture = \"dcgan-mnist\"\n[data]\ndataset = \"mnist\"\n";
        let overrides: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut config = RawConfig::parse(text, &overrides)?;
        let backend = resolve(&mut config, Some(BackendKind::Flex), None)?;
        let spec = run_spec(&config, backend)?;
        Ok((config, spec))
    }

    #[test]
    fn valid_spec() {
        let (config, s) = spec(&[]).unwrap();
        assert_eq!(s.total_iterations(937), 5 * 937);
        assert_eq!(config.run.backend.as_deref(), Some("flex"));
        let (_, s) = spec(&["train.steps=10"]).unwrap();
        assert_eq!(s.total_iterations(937), 10);
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
            ("name=\"a/b\"", "name"),
        ] {
            let err = spec(&[set]).unwrap_err().to_string();
            assert!(err.contains(key), "{set}: {err}");
        }
    }
}
