//! The user-facing run configuration: TOML read into serde structs that reject unknown keys.
//!
//! Every default is named here, in the `Default` impls and `default_*` functions; model sizes
//! and the optimisers' settings come from the reference configurations of `ganforge-models`,
//! [`AdamSpec::DCGAN`] and [`RmsPropSpec::WGAN`], so each value has one source. A config file
//! holds only what differs from them; [`RawConfig::to_toml`] writes the resolved form with
//! every default filled in (`resolved.toml` in a run directory).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use ganforge_models::{
    DcganGeneratorConfig, DcganMnistGeneratorConfig, MlpDiscriminatorConfig, MlpGeneratorConfig,
    ResnetDiscriminatorConfig, ResnetGeneratorConfig, ToyGeneratorConfig, UnetGeneratorConfig,
};

use ganforge_data::HoleShape;
use ganforge_losses::LeCam;
use ganforge_trainer::eval::{EvalSpec, ExtractorKind, Metric};
use ganforge_trainer::impute::GainSpec;
use ganforge_trainer::objective::{AdamSpec, OptimizerSpec, RmsPropSpec};
use ganforge_trainer::{EmaSpec, OnDivergence};

use crate::error::ConfigError;

/// A whole run configuration, as read from TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Name of the experiment; defaults to the config file's stem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The generator/discriminator pair.
    pub model: ModelSection,
    /// The training data.
    pub data: DataSection,
    /// How pairs for image-to-image translation are made from the data's images, if they
    /// are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<PairsSection>,
    /// The adversarial objective.
    #[serde(default)]
    pub loss: LossSection,
    /// Adam settings of each network.
    #[serde(default)]
    pub optimizer: OptimizerSection,
    /// Length, batch size, schedule of logs, samples and checkpoints.
    #[serde(default)]
    pub train: TrainSection,
    /// A moving average of the generator's weights; present means kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema: Option<EmaSection>,
    /// DiffAugment of the discriminator's inputs; present means augmented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment: Option<AugmentSection>,
    /// What `train.eval_every` scores, in which features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<EvalSection>,
    /// Where and how the run happened; filled in by the trainer.
    #[serde(default)]
    pub run: RunSection,
}

/// `[model]`: the architecture and its sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "architecture", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ModelSection {
    /// The fully connected `mlp-mnist` pair.
    MlpMnist {
        /// How class labels condition the networks: `none`, `concat`, `projection`, `acgan`.
        #[serde(default)]
        conditioning: ConditioningName,
        /// Width of the label embedding of a conditional model.
        #[serde(default = "default_embed_dim")]
        embed_dim: usize,
        /// Items the discriminator scores together as one (PacGAN); 1 for none.
        #[serde(default = "default_one")]
        pack: usize,
        /// Spectral normalisation of the discriminator's weights.
        #[serde(default)]
        spectral_norm: bool,
        /// Spectral normalisation of the generator's linear and convolution weights (SAGAN,
        /// BigGAN); for generators without transposed convolutions.
        #[serde(default)]
        spectral_norm_g: bool,
        /// Items per group of the discriminator's minibatch standard deviation feature
        /// (Karras et al. 2018); 0 for none.
        #[serde(default)]
        minibatch_std: usize,
        /// Noise size.
        #[serde(default = "default_latent")]
        latent_dim: usize,
        /// Generator hidden widths.
        #[serde(default = "default_mlp_g_hidden")]
        g_hidden: Vec<usize>,
        /// Discriminator hidden widths.
        #[serde(default = "default_mlp_d_hidden")]
        d_hidden: Vec<usize>,
        /// Image channels.
        #[serde(default = "default_one")]
        channels: usize,
        /// Image side.
        #[serde(default = "default_mnist_size")]
        image_size: usize,
    },
    /// The 28x28 `dcgan-mnist` pair (a multiple of 4 for other sizes).
    DcganMnist {
        /// How class labels condition the networks: `none`, `concat`, `projection`, `acgan`.
        #[serde(default)]
        conditioning: ConditioningName,
        /// Width of the label embedding of a conditional model.
        #[serde(default = "default_embed_dim")]
        embed_dim: usize,
        /// Items the discriminator scores together as one (PacGAN); 1 for none.
        #[serde(default = "default_one")]
        pack: usize,
        /// Spectral normalisation of the discriminator's weights.
        #[serde(default)]
        spectral_norm: bool,
        /// Spectral normalisation of the generator's linear and convolution weights (SAGAN,
        /// BigGAN); for generators without transposed convolutions.
        #[serde(default)]
        spectral_norm_g: bool,
        /// Items per group of the discriminator's minibatch standard deviation feature
        /// (Karras et al. 2018); 0 for none.
        #[serde(default)]
        minibatch_std: usize,
        /// Noise size.
        #[serde(default = "default_latent")]
        latent_dim: usize,
        /// Channels of the generator's first feature map.
        #[serde(default = "default_dcgan_mnist_g_width")]
        g_width: usize,
        /// Channels of the discriminator's first convolution.
        #[serde(default = "default_dcgan_width")]
        d_width: usize,
        /// Image channels.
        #[serde(default = "default_one")]
        channels: usize,
        /// Image side, a multiple of 4.
        #[serde(default = "default_mnist_size")]
        image_size: usize,
    },
    /// The DCGAN of Radford et al. for power-of-two sides (`dcgan32`, `dcgan64`).
    Dcgan {
        /// How class labels condition the networks: `none`, `concat`, `projection`, `acgan`.
        #[serde(default)]
        conditioning: ConditioningName,
        /// Width of the label embedding of a conditional model.
        #[serde(default = "default_embed_dim")]
        embed_dim: usize,
        /// Items the discriminator scores together as one (PacGAN); 1 for none.
        #[serde(default = "default_one")]
        pack: usize,
        /// Spectral normalisation of the discriminator's weights.
        #[serde(default)]
        spectral_norm: bool,
        /// Spectral normalisation of the generator's linear and convolution weights (SAGAN,
        /// BigGAN); for generators without transposed convolutions.
        #[serde(default)]
        spectral_norm_g: bool,
        /// Items per group of the discriminator's minibatch standard deviation feature
        /// (Karras et al. 2018); 0 for none.
        #[serde(default)]
        minibatch_std: usize,
        /// Noise size.
        #[serde(default = "default_latent")]
        latent_dim: usize,
        /// `ngf`.
        #[serde(default = "default_dcgan_width")]
        g_width: usize,
        /// `ndf`.
        #[serde(default = "default_dcgan_width")]
        d_width: usize,
        /// Image channels.
        #[serde(default = "default_three")]
        channels: usize,
        /// Image side, a power of two >= 8.
        #[serde(default = "default_dcgan_size")]
        image_size: usize,
    },
    /// SNGAN's residual networks (Miyato et al. 2018), the CIFAR-10 networks of
    /// PyTorch-StudioGAN and Mimicry, for power-of-two sides (32 in the reference).
    SnganResnet {
        /// How class labels condition the networks: `none`, `concat`, `projection`, `acgan`.
        #[serde(default)]
        conditioning: ConditioningName,
        /// Width of the label embedding of a conditional model.
        #[serde(default = "default_embed_dim")]
        embed_dim: usize,
        /// Items the discriminator scores together as one (PacGAN); 1 for none.
        #[serde(default = "default_one")]
        pack: usize,
        /// Spectral normalisation of the discriminator's weights (SNGAN's own setting).
        #[serde(default = "default_true")]
        spectral_norm: bool,
        /// Spectral normalisation of the generator's linear and convolution weights (SAGAN,
        /// BigGAN); for generators without transposed convolutions.
        #[serde(default)]
        spectral_norm_g: bool,
        /// Items per group of the discriminator's minibatch standard deviation feature
        /// (Karras et al. 2018); 0 for none.
        #[serde(default)]
        minibatch_std: usize,
        /// Noise size.
        #[serde(default = "default_resnet_latent")]
        latent_dim: usize,
        /// Channels of the generator's blocks.
        #[serde(default = "default_resnet_g_width")]
        g_width: usize,
        /// Channels of the discriminator's blocks.
        #[serde(default = "default_resnet_d_width")]
        d_width: usize,
        /// Image channels.
        #[serde(default = "default_three")]
        channels: usize,
        /// Image side, a power of two >= 8.
        #[serde(default = "default_resnet_size")]
        image_size: usize,
    },
    /// The small MLP pair for 2-D toy data.
    ToyMlp {
        /// How class labels condition the networks: `none`, `concat`, `projection`, `acgan`.
        #[serde(default)]
        conditioning: ConditioningName,
        /// Width of the label embedding of a conditional model.
        #[serde(default = "default_embed_dim")]
        embed_dim: usize,
        /// Items the discriminator scores together as one (PacGAN); 1 for none.
        #[serde(default = "default_one")]
        pack: usize,
        /// Spectral normalisation of the discriminator's weights.
        #[serde(default)]
        spectral_norm: bool,
        /// Spectral normalisation of the generator's linear and convolution weights (SAGAN,
        /// BigGAN); for generators without transposed convolutions.
        #[serde(default)]
        spectral_norm_g: bool,
        /// Items per group of the discriminator's minibatch standard deviation feature
        /// (Karras et al. 2018); 0 for none.
        #[serde(default)]
        minibatch_std: usize,
        /// Noise size.
        #[serde(default = "default_toy_latent")]
        latent_dim: usize,
        /// Hidden width of both networks.
        #[serde(default = "default_toy_width")]
        width: usize,
        /// Hidden layers of both networks.
        #[serde(default = "default_toy_depth")]
        depth: usize,
    },
    /// pix2pix's U-Net generator and PatchGAN discriminator for image-to-image translation;
    /// channels come from the paired data.
    Pix2pix {
        /// Image side, a power of two >= 4.
        #[serde(default = "default_pix2pix_size")]
        image_size: usize,
        /// `ngf`: channels of the U-Net's first level.
        #[serde(default = "default_dcgan_width")]
        g_width: usize,
        /// `ndf`: channels of the PatchGAN's first convolution.
        #[serde(default = "default_dcgan_width")]
        d_width: usize,
        /// The PatchGAN's stride-2 layers (`n_layers`); scaled with the image when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        d_layers: Option<usize>,
        /// `batch` or `instance` normalisation.
        #[serde(default)]
        norm: NormName,
        /// Dropout probability in the U-Net's decoder (its noise).
        #[serde(default = "default_pix2pix_dropout")]
        dropout: f64,
    },
}

impl ModelSection {
    /// The conditioning method and the label embedding's width.
    pub fn conditioning(&self) -> (ConditioningName, usize) {
        match self {
            ModelSection::MlpMnist {
                conditioning,
                embed_dim,
                ..
            }
            | ModelSection::DcganMnist {
                conditioning,
                embed_dim,
                ..
            }
            | ModelSection::Dcgan {
                conditioning,
                embed_dim,
                ..
            }
            | ModelSection::SnganResnet {
                conditioning,
                embed_dim,
                ..
            }
            | ModelSection::ToyMlp {
                conditioning,
                embed_dim,
                ..
            } => (*conditioning, *embed_dim),
            ModelSection::Pix2pix { .. } => (ConditioningName::None, default_embed_dim()),
        }
    }

    /// Whether the discriminator's weights are spectrally normalised.
    pub fn spectral_norm(&self) -> bool {
        match self {
            ModelSection::MlpMnist { spectral_norm, .. }
            | ModelSection::DcganMnist { spectral_norm, .. }
            | ModelSection::Dcgan { spectral_norm, .. }
            | ModelSection::SnganResnet { spectral_norm, .. }
            | ModelSection::ToyMlp { spectral_norm, .. } => *spectral_norm,
            ModelSection::Pix2pix { .. } => false,
        }
    }

    /// Whether the generator's weights are spectrally normalised.
    pub fn spectral_norm_g(&self) -> bool {
        match self {
            ModelSection::MlpMnist {
                spectral_norm_g, ..
            }
            | ModelSection::DcganMnist {
                spectral_norm_g, ..
            }
            | ModelSection::Dcgan {
                spectral_norm_g, ..
            }
            | ModelSection::SnganResnet {
                spectral_norm_g, ..
            }
            | ModelSection::ToyMlp {
                spectral_norm_g, ..
            } => *spectral_norm_g,
            ModelSection::Pix2pix { .. } => false,
        }
    }

    /// Items per group of the discriminator's minibatch standard deviation feature.
    pub fn minibatch_std(&self) -> usize {
        match self {
            ModelSection::MlpMnist { minibatch_std, .. }
            | ModelSection::DcganMnist { minibatch_std, .. }
            | ModelSection::Dcgan { minibatch_std, .. }
            | ModelSection::SnganResnet { minibatch_std, .. }
            | ModelSection::ToyMlp { minibatch_std, .. } => *minibatch_std,
            ModelSection::Pix2pix { .. } => 0,
        }
    }

    /// Items the discriminator scores together as one.
    pub fn pack(&self) -> usize {
        match self {
            ModelSection::MlpMnist { pack, .. }
            | ModelSection::DcganMnist { pack, .. }
            | ModelSection::Dcgan { pack, .. }
            | ModelSection::SnganResnet { pack, .. }
            | ModelSection::ToyMlp { pack, .. } => *pack,
            ModelSection::Pix2pix { .. } => 1,
        }
    }
}

/// `model.norm` of pix2pix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NormName {
    /// Batch normalisation.
    #[default]
    Batch,
    /// Instance normalisation (no parameters).
    Instance,
}

/// How class labels condition the networks (`[model] conditioning`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditioningName {
    /// Unconditional.
    #[default]
    None,
    /// Label embedding joined to the noise and to the discriminator's input.
    Concat,
    /// Projection discriminator, class-conditional batch normalisation in the generator.
    Projection,
    /// Auxiliary classifier in the discriminator (AC-GAN).
    Acgan,
}

impl ConditioningName {
    /// The models' method.
    pub fn method(self) -> ganforge_models::ConditioningMethod {
        use ganforge_models::ConditioningMethod as M;
        match self {
            ConditioningName::None => M::None,
            ConditioningName::Concat => M::Concat,
            ConditioningName::Projection => M::Projection,
            ConditioningName::Acgan => M::Acgan,
        }
    }
}

/// `[data]`: the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dataset", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DataSection {
    /// MNIST digits.
    Mnist {
        /// Directory holding the IDX files; searched for when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<PathBuf>,
        /// `train` or `test`.
        #[serde(default)]
        split: SplitName,
    },
    /// Fashion-MNIST clothing.
    FashionMnist {
        /// Directory holding the IDX files; searched for when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<PathBuf>,
        /// `train` or `test`.
        #[serde(default)]
        split: SplitName,
    },
    /// Stacked MNIST: three MNIST digits as the channels of one image, 1,000 modes (one per
    /// triple of digits), for counting the modes a generator covers (`eval.metrics =
    /// ["modes"]`).
    StackedMnist {
        /// Directory holding MNIST's IDX files; searched for when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<PathBuf>,
        /// The split the digits come from: `train` or `test`.
        #[serde(default)]
        split: SplitName,
        /// Stacked images drawn (from the run's seed).
        #[serde(default = "default_stacked_items")]
        items: usize,
        /// Side of the black canvas the 28x28 digits are centred on.
        #[serde(default = "default_stacked_size")]
        image_size: usize,
    },
    /// CIFAR-10 from its official binary archive (`cifar-10-binary.tar.gz`).
    Cifar10 {
        /// Directory holding the archive or its batches; searched for when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<PathBuf>,
        /// `train` or `test`.
        #[serde(default)]
        split: SplitName,
    },
    /// The user's own pictures.
    ImageFolder {
        /// The folder (class sub-folders become labels).
        dir: PathBuf,
        /// Side of the square the pictures are resized and cropped to.
        image_size: usize,
        /// `grey` or `rgb`.
        #[serde(default)]
        color: ColorName,
    },
    /// A ring of 8 Gaussians.
    ToyRing8 {
        /// Points drawn once at start-up.
        #[serde(default = "default_toy_samples")]
        samples: usize,
    },
    /// A 5x5 grid of Gaussians.
    ToyGrid25 {
        /// Points drawn once at start-up.
        #[serde(default = "default_toy_samples")]
        samples: usize,
    },
    /// Pairs in pix2pix's aligned format: source (left) and target (right) in each picture.
    AlignedPairs {
        /// The folder.
        dir: PathBuf,
        /// Side of the square each half is resized and cropped to.
        image_size: usize,
        /// `grey` or `rgb`, for both halves.
        #[serde(default)]
        color: ColorName,
    },
    /// Pairs from two folders whose pictures share file names.
    FolderPairs {
        /// The sources (`A/`).
        sources: PathBuf,
        /// The targets (`B/`).
        targets: PathBuf,
        /// Side of the square the pictures are resized and cropped to.
        image_size: usize,
        /// `grey` or `rgb` sources.
        #[serde(default)]
        source_color: ColorName,
        /// `grey` or `rgb` targets.
        #[serde(default)]
        target_color: ColorName,
    },
}

/// `[pairs]`: a translation task made from the data's images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PairsSection {
    /// Sobel edges -> image.
    Edges {
        /// Side of the black canvas the images are centred on first (32 for 28x28 digits).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pad_to: Option<usize>,
    },
    /// Greyscale -> colour.
    Colorize {
        /// Side of the black canvas the images are centred on first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pad_to: Option<usize>,
    },
    /// Low resolution -> high.
    Upscale {
        /// Side of the averaged blocks.
        #[serde(default = "default_upscale_factor")]
        factor: usize,
        /// Side of the black canvas the images are centred on first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pad_to: Option<usize>,
    },
    /// Image with a hole -> image (inpainting).
    Masked {
        /// Size of the hole in pixels (a side, or a stroke's length).
        hole: usize,
        /// `centre`, `rectangle` (random size and place) or `strokes` (free-form).
        #[serde(default)]
        mask: HoleShape,
        /// Side of the black canvas the images are centred on first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pad_to: Option<usize>,
    },
}

impl DataSection {
    /// The directory named in the config, if any.
    pub fn dir_mut(&mut self) -> Option<&mut Option<PathBuf>> {
        match self {
            DataSection::Mnist { dir, .. }
            | DataSection::FashionMnist { dir, .. }
            | DataSection::StackedMnist { dir, .. }
            | DataSection::Cifar10 { dir, .. } => Some(dir),
            _ => None,
        }
    }
}

/// Which split of a dataset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitName {
    /// The training split.
    #[default]
    Train,
    /// The test split.
    Test,
}

/// Colour mode of an image folder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColorName {
    /// One channel.
    Grey,
    /// Three channels.
    #[default]
    Rgb,
}

/// `[loss]`: the adversarial objective and a penalty on the discriminator's input gradient.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossSection {
    /// The adversarial loss.
    #[serde(default)]
    pub kind: LossName,
    /// `gradient` (WGAN-GP, on interpolates) or `r1` (on real items); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty: Option<PenaltyName>,
    /// The penalty's weight: WGAN-GP's lambda, R1's gamma.
    #[serde(default = "default_penalty_weight")]
    pub penalty_weight: f32,
    /// Discriminator steps between applications of R1 (lazy regularisation; its weight is
    /// multiplied by this); WGAN-GP is applied at every step.
    #[serde(default = "default_penalty_every")]
    pub penalty_every: u32,
    /// LeCam regularisation's weight; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lecam_weight: Option<f32>,
    /// Decay of LeCam's moving averages of the discriminator's scores.
    #[serde(default = "default_lecam_decay")]
    pub lecam_decay: f32,
    /// Clip every discriminator weight to `[-c, c]` after each of its steps (the original
    /// WGAN's constraint, 0.01 in the paper); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_clip: Option<f32>,
    /// Weight of the L1 distance to the target in an image-to-image generator's loss
    /// (pix2pix's lambda, 100 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1_weight: Option<f32>,
    /// Weight of the adversarial term in an image-to-image generator's loss (1 when unset;
    /// 0 trains it on L1 alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adversarial_weight: Option<f32>,
}

impl Default for LossSection {
    fn default() -> Self {
        Self {
            kind: LossName::default(),
            penalty: None,
            penalty_weight: default_penalty_weight(),
            penalty_every: default_penalty_every(),
            lecam_weight: None,
            lecam_decay: default_lecam_decay(),
            weight_clip: None,
            l1_weight: None,
            adversarial_weight: None,
        }
    }
}

/// `loss.kind`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossName {
    /// Non-saturating BCE (Goodfellow et al. 2014, section 3).
    #[default]
    NonSaturating,
    /// The original minimax objective.
    Minimax,
    /// Hinge loss (SN-GAN).
    Hinge,
    /// Least squares (LSGAN).
    LeastSquares,
    /// The Wasserstein critic (WGAN; with `penalty = "gradient"`, WGAN-GP).
    Wasserstein,
}

/// `loss.penalty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PenaltyName {
    /// WGAN-GP's `(||grad|| - 1)^2` on interpolates.
    Gradient,
    /// R1's `||grad||^2 / 2` on real items.
    R1,
}

fn default_penalty_every() -> u32 {
    1
}

fn default_lecam_decay() -> f32 {
    LeCam::DEFAULT.decay
}

/// The weight of both penalties in their papers (lambda = 10, gamma = 10).
fn default_penalty_weight() -> f32 {
    10.0
}

/// `[optimizer]`: one optimiser per network.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSection {
    /// The generator's optimiser.
    #[serde(default)]
    pub generator: NetworkOptimizer,
    /// The discriminator's optimiser.
    #[serde(default)]
    pub discriminator: NetworkOptimizer,
}

/// `[optimizer.generator]` or `[optimizer.discriminator]`: Adam (Kingma & Ba 2015) by
/// default, with DCGAN's settings ([`AdamSpec::DCGAN`]); or `kind = "rmsprop"`, with the
/// original WGAN's ([`RmsPropSpec::WGAN`]). A key of the other optimiser is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "OptimizerKeys", into = "OptimizerKeys")]
pub struct NetworkOptimizer(pub OptimizerSpec);

impl Default for NetworkOptimizer {
    fn default() -> Self {
        Self(AdamSpec::DCGAN.into())
    }
}

/// `optimizer.*.kind`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerName {
    /// Adam.
    #[default]
    Adam,
    /// RMSProp.
    Rmsprop,
}

/// The keys of a network's optimiser section as written in TOML.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerKeys {
    #[serde(default)]
    kind: OptimizerName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    beta1: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    beta2: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alpha: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epsilon: Option<f32>,
}

impl TryFrom<OptimizerKeys> for NetworkOptimizer {
    type Error = String;

    fn try_from(keys: OptimizerKeys) -> Result<Self, Self::Error> {
        Ok(Self(match keys.kind {
            OptimizerName::Adam => {
                if keys.alpha.is_some() {
                    return Err("`alpha` is RMSProp's; Adam takes lr, beta1, beta2 and \
                                epsilon (or set kind = \"rmsprop\")"
                        .into());
                }
                let d = AdamSpec::DCGAN;
                OptimizerSpec::Adam(AdamSpec {
                    lr: keys.lr.unwrap_or(d.lr),
                    beta1: keys.beta1.unwrap_or(d.beta1),
                    beta2: keys.beta2.unwrap_or(d.beta2),
                    epsilon: keys.epsilon.unwrap_or(d.epsilon),
                })
            }
            OptimizerName::Rmsprop => {
                if keys.beta1.is_some() || keys.beta2.is_some() {
                    return Err(
                        "`beta1` and `beta2` are Adam's; RMSProp takes lr, alpha and \
                                epsilon"
                            .into(),
                    );
                }
                let d = RmsPropSpec::WGAN;
                OptimizerSpec::RmsProp(RmsPropSpec {
                    lr: keys.lr.unwrap_or(d.lr),
                    alpha: keys.alpha.unwrap_or(d.alpha),
                    epsilon: keys.epsilon.unwrap_or(d.epsilon),
                })
            }
        }))
    }
}

impl From<NetworkOptimizer> for OptimizerKeys {
    fn from(optimizer: NetworkOptimizer) -> Self {
        match optimizer.0 {
            OptimizerSpec::Adam(a) => Self {
                kind: OptimizerName::Adam,
                lr: Some(a.lr),
                beta1: Some(a.beta1),
                beta2: Some(a.beta2),
                epsilon: Some(a.epsilon),
                alpha: None,
            },
            OptimizerSpec::RmsProp(r) => Self {
                kind: OptimizerName::Rmsprop,
                lr: Some(r.lr),
                alpha: Some(r.alpha),
                epsilon: Some(r.epsilon),
                ..Self::default()
            },
        }
    }
}

/// `[train]`: how long and how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Passes over the data (each discriminator step takes one batch).
    #[serde(default = "default_epochs")]
    pub epochs: u64,
    /// Total iterations; overrides `epochs` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
    /// Real images per discriminator step.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Discriminator steps per generator step.
    #[serde(default = "default_one")]
    pub n_critic: usize,
    /// Seed of weights, data order and noise.
    #[serde(default)]
    pub seed: u64,
    /// Iterations between metric lines.
    #[serde(default = "default_log_every")]
    pub log_every: u64,
    /// Iterations between sample grids.
    #[serde(default = "default_sample_every")]
    pub sample_every: u64,
    /// Iterations between checkpoints (one is always written at the end).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// Checkpoints kept on disk (older ones are deleted).
    #[serde(default = "default_keep")]
    pub keep_checkpoints: usize,
    /// Samples in each grid.
    #[serde(default = "default_sample_count")]
    pub sample_count: usize,
    /// Iterations between scores of the run's samples (`[eval]` says which); none when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<u64>,
    /// When a loss or a weight stops being finite: `stop` (an error naming the last good
    /// checkpoint) or `rollback` (reload it and continue with lower learning rates).
    #[serde(default)]
    pub on_divergence: DivergenceName,
    /// The learning rates' factor at each rollback.
    #[serde(default = "default_rollback_lr_factor")]
    pub rollback_lr_factor: f64,
    /// Rollbacks allowed before the run stops.
    #[serde(default = "default_max_rollbacks")]
    pub max_rollbacks: u32,
}

/// `train.on_divergence`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DivergenceName {
    /// Stop with an error.
    #[default]
    Stop,
    /// Reload the last good checkpoint with lower learning rates.
    Rollback,
}

impl Default for TrainSection {
    fn default() -> Self {
        Self {
            epochs: default_epochs(),
            steps: None,
            batch_size: default_batch(),
            n_critic: 1,
            seed: 0,
            log_every: default_log_every(),
            sample_every: default_sample_every(),
            checkpoint_every: default_checkpoint_every(),
            keep_checkpoints: default_keep(),
            sample_count: default_sample_count(),
            eval_every: None,
            on_divergence: DivergenceName::Stop,
            rollback_lr_factor: default_rollback_lr_factor(),
            max_rollbacks: default_max_rollbacks(),
        }
    }
}

/// `[ema]`: a moving average of the generator's weights, which samples, grids and
/// `generate` use (`generate --no-ema` for the trained weights).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmaSection {
    /// The largest share of itself the average keeps each iteration.
    #[serde(default = "default_ema_beta")]
    pub beta: f64,
    /// The iteration from which the average lags; before it, it copies the generator.
    #[serde(default = "default_ema_start")]
    pub start: u64,
}

impl Default for EmaSection {
    fn default() -> Self {
        Self {
            beta: default_ema_beta(),
            start: default_ema_start(),
        }
    }
}

fn default_ema_beta() -> f64 {
    EmaSpec::DEFAULT.beta
}

fn default_ema_start() -> u64 {
    EmaSpec::DEFAULT.start
}

/// `[augment]`: DiffAugment (Zhao et al. 2020) of every image the discriminator scores, real
/// and generated, in both steps; optionally each augmentation with an adaptive probability
/// (ADA, Karras et al. 2020).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentSection {
    /// Comma-separated: DiffAugment's `color`, `translation`, `cutout`; ADA's `xflip`,
    /// `rotate90`, `xint`, `scale`, `rotate`, `aniso`, `xfrac`, `brightness`, `contrast`,
    /// `lumaflip`, `hue`, `saturation`, or its groups `blit`, `geom`, `bgc`.
    #[serde(default = "default_augment_policy")]
    pub policy: String,
    /// The fixed probability with which each augmentation applies to each image (1 when left
    /// out; not with `adaptive`).
    pub probability: Option<f32>,
    /// Whether each augmentation applies to each image with a probability that follows the
    /// discriminator's overfitting (from 0) rather than always.
    #[serde(default)]
    pub adaptive: bool,
    /// The mean sign of D's scores on real items the probability steers towards
    /// (`adaptive` only).
    pub target: Option<f32>,
    /// Discriminator steps between adjustments (`adaptive` only).
    pub adjust_every: Option<u64>,
    /// Real items over which the probability can move from 0 to 1 (`adaptive` only).
    pub ramp_images: Option<u64>,
}

fn default_augment_policy() -> String {
    "color,translation,cutout".into()
}

/// `[eval]`: the scores `train.eval_every` computes during training, in the features of a
/// dataset classifier or of the FID Inception-v3; the best checkpoint by one of them is kept
/// as `checkpoints/best`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// `classifier` (scores `..._classifier`) or `inception` (the papers' FID,
    /// `..._inception`).
    #[serde(default)]
    pub extractor: ExtractorKind,
    /// A classifier directory written by `ganforge classify train` for the run's dataset
    /// (the classifier extractor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<PathBuf>,
    /// pytorch-fid's Inception weight file, when not in `$GANFORGE_DATA/inception/` or the
    /// cache (the Inception extractor; SHA-256 checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inception_weights: Option<PathBuf>,
    /// Any of `fid`, `kid`, `pr`, `dc`, and with a classifier `is`, `class-acc` (conditional
    /// runs), `modes` (stacked data).
    #[serde(default = "default_eval_metrics")]
    pub metrics: Vec<Metric>,
    /// Samples generated, and real items drawn, per evaluation.
    #[serde(default = "default_eval_samples")]
    pub samples: usize,
    /// The split of the dataset the samples are compared with.
    #[serde(default)]
    pub reference: SplitName,
    /// The score that ranks checkpoints, as reports name it (`fid_classifier`,
    /// `precision_inception`, ...); the first metric's first score when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<String>,
}

fn default_eval_metrics() -> Vec<Metric> {
    vec![Metric::Fid]
}

fn default_eval_samples() -> usize {
    EvalSpec::DEFAULT_SAMPLES
}

/// `[run]`: filled in by the trainer when it writes `resolved.toml`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// The backend the run used (`--backend` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The source revision of the binary that made the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_revision: Option<String>,
    /// The ganforge version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

fn default_rollback_lr_factor() -> f64 {
    OnDivergence::DEFAULT_LR_FACTOR
}

fn default_max_rollbacks() -> u32 {
    OnDivergence::DEFAULT_MAX_ROLLBACKS
}

fn default_embed_dim() -> usize {
    ganforge_models::Conditioning::DEFAULT_EMBED_DIM
}
// Model sizes come from the models' reference configurations, their one source.
fn default_latent() -> usize {
    DcganMnistGeneratorConfig::mnist().latent_dim
}
fn default_mlp_g_hidden() -> Vec<usize> {
    MlpGeneratorConfig::mnist().hidden
}
fn default_mlp_d_hidden() -> Vec<usize> {
    MlpDiscriminatorConfig::mnist().hidden
}
fn default_one() -> usize {
    1
}
fn default_three() -> usize {
    3
}
fn default_mnist_size() -> usize {
    DcganMnistGeneratorConfig::mnist().image_size
}
fn default_dcgan_mnist_g_width() -> usize {
    DcganMnistGeneratorConfig::mnist().width
}
fn default_dcgan_width() -> usize {
    DcganGeneratorConfig::new(default_dcgan_size(), 3).width
}
fn default_dcgan_size() -> usize {
    64
}
fn default_true() -> bool {
    true
}
fn default_resnet_size() -> usize {
    32
}
fn default_resnet_latent() -> usize {
    ResnetGeneratorConfig::new(default_resnet_size(), 3).latent_dim
}
fn default_resnet_g_width() -> usize {
    ResnetGeneratorConfig::new(default_resnet_size(), 3).width
}
fn default_resnet_d_width() -> usize {
    ResnetDiscriminatorConfig::new(default_resnet_size(), 3).width
}
fn default_toy_latent() -> usize {
    ToyGeneratorConfig::default().latent_dim
}
fn default_toy_width() -> usize {
    ToyGeneratorConfig::default().width
}
fn default_toy_depth() -> usize {
    ToyGeneratorConfig::default().depth
}
fn default_toy_samples() -> usize {
    50_000
}
fn default_pix2pix_size() -> usize {
    UnetGeneratorConfig::new(3, 3, 256).image_size
}
fn default_pix2pix_dropout() -> f64 {
    UnetGeneratorConfig::new(3, 3, 256).dropout
}
fn default_upscale_factor() -> usize {
    4
}
fn default_stacked_items() -> usize {
    128_000
}
fn default_stacked_size() -> usize {
    32
}
fn default_epochs() -> u64 {
    5
}
fn default_batch() -> usize {
    64
}
fn default_log_every() -> u64 {
    50
}
fn default_sample_every() -> u64 {
    500
}
fn default_checkpoint_every() -> u64 {
    1000
}
fn default_keep() -> usize {
    3
}
fn default_sample_count() -> usize {
    64
}

impl RawConfig {
    /// Reads `path`, applies `overrides` (`dotted.key=value`), and checks the result against
    /// the schema. The name defaults to the file stem.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Self::parse(&text, overrides).map_err(|e| e.in_file(path))?;
        if config.name.is_none() {
            config.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        Ok(config)
    }

    /// Parses TOML text with `overrides` applied.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        from_table(parse_with_overrides(text, overrides)?)
    }

    /// The resolved TOML text: every default written out.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string_pretty(self).map_err(|e| ConfigError::Syntax {
            message: format!("cannot write the configuration: {e}"),
        })
    }
}

/// A `ganforge impute` configuration, as read from TOML. Unset GAIN settings take
/// [`GainSpec::default`]'s values (the paper's reference setting).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImputeConfig {
    /// The table to fill when `--data` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<TableSection>,
    /// GAIN's settings.
    #[serde(default)]
    pub gain: GainSection,
}

/// `[data]` of an imputation config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSection {
    /// A CSV file; a relative path that does not exist from the working directory is looked
    /// up under `$GANFORGE_DATA`.
    pub csv: PathBuf,
}

/// `[gain]`: every key optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GainSection {
    /// Training iterations.
    pub iterations: Option<u64>,
    /// Rows per iteration.
    pub batch_size: Option<usize>,
    /// Probability that the hint reveals a cell's mask entry.
    pub hint_rate: Option<f64>,
    /// Weight of the squared error on observed cells.
    pub alpha: Option<f64>,
    /// Hidden width of both networks (default: the number of columns).
    pub hidden: Option<usize>,
    /// Upper bound of the noise put into missing cells.
    pub noise_scale: Option<f64>,
    /// Share of observed cells also hidden from the generator while training (0: the
    /// reference algorithm).
    pub holdout: Option<f64>,
    /// Adam's learning rate.
    pub lr: Option<f64>,
    /// Adam's first-moment decay.
    pub beta1: Option<f32>,
    /// Adam's second-moment decay.
    pub beta2: Option<f32>,
    /// Seed (`--seed` overrides it).
    pub seed: Option<u64>,
}

impl GainSection {
    /// The settings, defaults filled in.
    pub fn spec(&self) -> GainSpec {
        let d = GainSpec::default();
        GainSpec {
            iterations: self.iterations.unwrap_or(d.iterations),
            batch_size: self.batch_size.unwrap_or(d.batch_size),
            hint_rate: self.hint_rate.unwrap_or(d.hint_rate),
            alpha: self.alpha.unwrap_or(d.alpha),
            hidden: self.hidden.or(d.hidden),
            noise_scale: self.noise_scale.unwrap_or(d.noise_scale),
            holdout: self.holdout.unwrap_or(d.holdout),
            optimizer: AdamSpec {
                lr: self.lr.unwrap_or(d.optimizer.lr),
                beta1: self.beta1.unwrap_or(d.optimizer.beta1),
                beta2: self.beta2.unwrap_or(d.optimizer.beta2),
                ..d.optimizer
            },
            seed: self.seed.unwrap_or(d.seed),
        }
    }
}

impl ImputeConfig {
    /// Reads `path` and applies `overrides` (`gain.iterations=100`).
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, overrides).map_err(|e| e.in_file(path))
    }

    /// Parses TOML text with `overrides` applied.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        from_table(parse_with_overrides(text, overrides)?)
    }
}

fn parse_with_overrides(text: &str, overrides: &[String]) -> Result<toml::Table, ConfigError> {
    let mut table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax {
                message: e.to_string(),
            })?;
    for item in overrides {
        apply_override(&mut table, item)?;
    }
    Ok(table)
}

fn from_table<T: serde::de::DeserializeOwned>(table: toml::Table) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let path = e.path().to_string();
        ConfigError::Schema {
            key: if path == "." { String::new() } else { path },
            // toml appends its own "in `key`" line; the key is already in front.
            message: e
                .into_inner()
                .to_string()
                .lines()
                .filter(|l| !l.starts_with("in `"))
                .collect::<Vec<_>>()
                .join(" ")
                .trim()
                .to_string(),
        }
    })
}

/// Sets `a.b.c=value` in `table`. The value is read as a TOML value (`5`, `1e-3`, `true`,
/// `[1, 2]`, `"text"`); anything that is not valid TOML is taken as a string.
fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), ConfigError> {
    let bad = |reason: &str| ConfigError::Override {
        item: item.to_string(),
        reason: reason.to_string(),
    };
    let (key, raw_value) = item
        .split_once('=')
        .ok_or_else(|| bad("expected key=value, e.g. train.steps=100"))?;
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("the key has an empty part"));
    }
    let value = format!("v = {}", raw_value.trim())
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw_value.trim().to_string()));
    let (last, parents) = parts.split_last().ok_or_else(|| bad("empty key"))?;
    let mut node = table;
    for part in parents {
        let entry = node
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry
            .as_table_mut()
            .ok_or_else(|| bad(&format!("`{part}` is not a table")))?;
    }
    node.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[model]\narchitecture = \"dcgan-mnist\"\n[data]\ndataset = \"mnist\"\n";

    #[test]
    fn defaults_are_filled_in() {
        let c = RawConfig::parse(MINIMAL, &[]).unwrap();
        assert_eq!(c.train.batch_size, 64);
        assert_eq!(
            c.optimizer.generator.0,
            OptimizerSpec::Adam(AdamSpec::DCGAN)
        );
        assert_eq!(c.loss, LossSection::default());
        let ModelSection::DcganMnist { g_width, .. } = c.model else {
            panic!()
        };
        assert_eq!(g_width, 256);
    }

    #[test]
    fn resolved_form_round_trips() {
        let c = RawConfig::parse(MINIMAL, &["train.steps=7".into()]).unwrap();
        let text = c.to_toml().unwrap();
        assert!(
            text.contains("batch_size = 64") && text.contains("steps = 7"),
            "{text}"
        );
        assert_eq!(RawConfig::parse(&text, &[]).unwrap(), c);
    }

    #[test]
    fn unknown_key_is_named() {
        let text = format!("{MINIMAL}[train]\nbatch_sise = 3\n");
        let err = RawConfig::parse(&text, &[]).unwrap_err().to_string();
        assert!(err.contains("batch_sise") && err.contains("train"), "{err}");
        let err = RawConfig::parse(MINIMAL, &["optimizer.generator.lr2=1".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("lr2") && err.contains("optimizer.generator"),
            "{err}"
        );
        let err = RawConfig::parse(MINIMAL, &["model.latent=3".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("latent"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = RawConfig::parse(MINIMAL, &["train.batch_size=many".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train.batch_size") && err.contains("many"),
            "{err}"
        );
    }

    #[test]
    fn unknown_variant_lists_the_valid_ones() {
        let err = RawConfig::parse(MINIMAL, &["loss.kind=wasserstain".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("wasserstain") && err.contains("hinge"),
            "{err}"
        );
        let err = RawConfig::parse(MINIMAL, &["model.architecture=dcgan128".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("dcgan128") && err.contains("mlp-mnist"),
            "{err}"
        );
    }

    #[test]
    fn overrides_parse_values() {
        let c = RawConfig::parse(
            MINIMAL,
            &[
                "train.seed=9".into(),
                "optimizer.discriminator.lr=1e-3".into(),
                "name=x".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.train.seed, 9);
        assert_eq!(c.optimizer.discriminator.0.lr(), 1e-3);
        assert_eq!(c.name.as_deref(), Some("x"));
        assert!(RawConfig::parse(MINIMAL, &["novalue".into()]).is_err());
        assert!(RawConfig::parse(MINIMAL, &["train..seed=1".into()]).is_err());
    }

    #[test]
    fn rmsprop_takes_its_own_keys_and_defaults() {
        let c = RawConfig::parse(
            MINIMAL,
            &[
                "optimizer.discriminator.kind=rmsprop".into(),
                "optimizer.discriminator.alpha=0.9".into(),
            ],
        )
        .unwrap();
        let want = RmsPropSpec {
            alpha: 0.9,
            ..RmsPropSpec::WGAN
        };
        assert_eq!(c.optimizer.discriminator.0, OptimizerSpec::RmsProp(want));
        let text = c.to_toml().unwrap();
        assert!(
            text.contains("kind = \"rmsprop\"") && text.contains("alpha = 0.9"),
            "{text}"
        );
        assert_eq!(RawConfig::parse(&text, &[]).unwrap(), c);
        let refused = |items: &[&str]| {
            let items: Vec<String> = items.iter().map(|i| i.to_string()).collect();
            RawConfig::parse(MINIMAL, &items).unwrap_err().to_string()
        };
        let err = refused(&["optimizer.generator.alpha=0.9"]);
        assert!(
            err.contains("optimizer.generator") && err.contains("`alpha` is RMSProp's"),
            "{err}"
        );
        let err = refused(&[
            "optimizer.generator.kind=rmsprop",
            "optimizer.generator.beta1=0.5",
        ]);
        assert!(
            err.contains("optimizer.generator") && err.contains("are Adam's"),
            "{err}"
        );
    }
}
