//! Generators and discriminators for GANs, as burn modules.
//!
//! Every architecture comes as a `<Arch>GeneratorConfig` / `<Arch>DiscriminatorConfig` pair
//! whose `init` checks the shapes and builds the module with the reference initialisation
//! (weights `N(0, 0.02)`, BatchNorm `gamma ~ N(1, 0.02)`, biases as PyTorch) drawn from a
//! seeded host RNG, so the same seed gives the same weights on every backend.
//!
//! All generators map noise `[B, latent]` to samples `[B, C, H, W]` in `[-1, 1]`; all
//! discriminators map `[B, C, H, W]` to logits `[B, 1]`. The toy 2-D models use
//! `C = 2, H = W = 1`. [`Generator`] and [`Discriminator`] wrap the architectures in one type
//! each, with the class [`Conditioning`] of a conditional GAN (labels `[B]` in, and for AC-GAN
//! class logits out), and [`Architecture`] pairs the two configs of one architecture.
//! [`Classifier`] is a small CNN that checks what a conditional generator made.
//! [`GainGenerator`] and [`GainDiscriminator`] impute tables (GAIN): rows of cells, not images.
//! [`UnetGenerator`] and [`PatchGanDiscriminator`] are pix2pix's pair for image-to-image
//! translation: an image (and dropout masks as noise) in, an image out; one logit per patch.

mod architecture;
mod augment;
mod classifier;
mod dcgan;
mod dcgan_mnist;
mod error;
mod gain;
mod inception;
mod init;
pub mod layers;
mod mlp;
mod patchgan;
mod reference;
mod resnet;
mod spectral;
mod toy;
mod unet;

pub use architecture::{
    Architecture, Conditioning, ConditioningMethod, Discriminator, DiscriminatorNet,
    DiscriminatorOptions, Generator, GeneratorNet, GeneratorOptions, Scores,
};
pub use augment::AugmentPolicy;
pub use classifier::{Classifier, ClassifierConfig, ConvBlock};
pub use dcgan::{
    DcganDiscriminator, DcganDiscriminatorConfig, DcganGenerator, DcganGeneratorConfig,
};
pub use dcgan_mnist::{
    DcganMnistDiscriminator, DcganMnistDiscriminatorConfig, DcganMnistGenerator,
    DcganMnistGeneratorConfig,
};
pub use error::ModelError;
pub use gain::{GainConfig, GainDiscriminator, GainGenerator};
pub use inception::{
    FidInception, INCEPTION_CLASSES, INCEPTION_FEATURES, INCEPTION_SIZE, InceptionLoadError,
};
pub use init::WeightInit;
pub use layers::NormKind;
pub use mlp::{MlpDiscriminator, MlpDiscriminatorConfig, MlpGenerator, MlpGeneratorConfig};
pub use patchgan::{PatchGanDiscriminator, PatchGanDiscriminatorConfig, patch_receptive_field};
pub use reference::{REFERENCE_MODELS, TOOLKIT_MODELS, TRANSLATION_MODELS, reference};
pub use resnet::{
    BlockKind, DownBlock, ResnetDiscriminator, ResnetDiscriminatorConfig, ResnetGenerator,
    ResnetGeneratorConfig, UpBlock,
};
pub use spectral::{SpectralNorm, is_spectrally_normalized};
pub use toy::{ToyDiscriminator, ToyDiscriminatorConfig, ToyGenerator, ToyGeneratorConfig};
pub use unet::{UnetGenerator, UnetGeneratorConfig};
