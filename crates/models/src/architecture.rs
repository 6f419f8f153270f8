//! One type for "any generator" and "any discriminator", the pair of configs that builds
//! them, and the class conditioning they share, so a training loop can hold whichever
//! architecture and conditioning method a run asks for.
//!
//! Conditioning wraps the architectures rather than living inside each: a label embedding
//! joined to the noise (`concat`, `acgan`) or to the discriminator's input (`concat`), a
//! projection of the discriminator's penultimate features onto a class embedding
//! (`projection`), an auxiliary classifier on those features (`acgan`). The one part inside
//! the architectures is class-conditional batch normalisation (`projection`'s generator),
//! which each generator applies to its own normalisation layers through [`ClassInput`].

use burn::nn::Linear;
use burn::prelude::*;

use crate::dcgan::{
    DcganDiscriminator, DcganDiscriminatorConfig, DcganGenerator, DcganGeneratorConfig,
};
use crate::dcgan_mnist::{
    DcganMnistDiscriminator, DcganMnistDiscriminatorConfig, DcganMnistGenerator,
    DcganMnistGeneratorConfig,
};
use crate::error::{ModelError, positive};
use crate::init::{WEIGHT_STD, WeightInit};
use crate::layers::{ClassAffine, ClassEmbedding, MinibatchStd};
use crate::mlp::{MlpDiscriminator, MlpDiscriminatorConfig, MlpGenerator, MlpGeneratorConfig};
use crate::patchgan::{PatchGanDiscriminator, PatchGanDiscriminatorConfig};
use crate::resnet::{
    ResnetDiscriminator, ResnetDiscriminatorConfig, ResnetGenerator, ResnetGeneratorConfig,
};
use crate::spectral;
use crate::toy::{ToyDiscriminator, ToyDiscriminatorConfig, ToyGenerator, ToyGeneratorConfig};
use crate::unet::{UnetGenerator, UnetGeneratorConfig};

/// How class labels enter the networks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConditioningMethod {
    /// Unconditional: no labels.
    #[default]
    None,
    /// A learned label embedding joined to the noise and to the discriminator's input (Mirza
    /// and Osindero 2014).
    Concat,
    /// A projection discriminator (Miyato and Koyama 2018) and class-conditional batch
    /// normalisation in the generator; generators without normalisation (the toy MLP) take
    /// the label embedding with the noise instead.
    Projection,
    /// An auxiliary classifier on the discriminator's features; the label embedding joins the
    /// noise (Odena et al. 2017).
    Acgan,
}

/// Class conditioning of a pair of networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conditioning {
    /// The method.
    pub method: ConditioningMethod,
    /// Number of classes (labels are `0..classes`).
    pub classes: usize,
    /// Width of the label embedding joined to the noise; the discriminator's input gets at
    /// least as many label values.
    pub embed_dim: usize,
}

impl Conditioning {
    /// Default width of the label embedding.
    pub const DEFAULT_EMBED_DIM: usize = 10;

    /// No conditioning.
    pub fn none() -> Self {
        Self::new(ConditioningMethod::None, 0)
    }

    /// `method` over `classes` classes, with the default embedding width.
    pub fn new(method: ConditioningMethod, classes: usize) -> Self {
        Self {
            method,
            classes,
            embed_dim: Self::DEFAULT_EMBED_DIM,
        }
    }

    /// The same with a label embedding of width `embed_dim`.
    pub fn with_embed_dim(self, embed_dim: usize) -> Self {
        Self { embed_dim, ..self }
    }

    /// Whether the networks take labels.
    pub fn is_conditional(&self) -> bool {
        self.method != ConditioningMethod::None
    }

    fn check(&self) -> Result<(), ModelError> {
        if !self.is_conditional() {
            return Ok(());
        }
        if self.classes < 2 {
            return Err(ModelError::InvalidSize {
                field: "classes",
                value: self.classes,
                reason: "class conditioning needs at least 2 classes".into(),
            });
        }
        crate::error::positive("embed_dim", self.embed_dim)
    }
}

/// Labels and the class-conditional normalisation layers they select, handed to a
/// generator's forward pass.
pub(crate) struct ClassInput<'a> {
    norms: &'a [ClassAffine],
    labels: &'a Tensor<1, Int>,
}

impl<'a> ClassInput<'a> {
    /// The class layer of normalisation `index`, with the labels.
    pub(crate) fn at(&self, index: usize) -> Option<(&'a ClassAffine, &'a Tensor<1, Int>)> {
        self.norms.get(index).map(|norm| (norm, self.labels))
    }
}

/// The unconditioned generator of each architecture.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum GeneratorNet {
    /// See [`MlpGenerator`].
    Mlp(MlpGenerator),
    /// See [`DcganMnistGenerator`].
    DcganMnist(DcganMnistGenerator),
    /// See [`DcganGenerator`].
    Dcgan(DcganGenerator),
    /// See [`ResnetGenerator`].
    Resnet(ResnetGenerator),
    /// See [`ToyGenerator`].
    Toy(ToyGenerator),
    /// See [`UnetGenerator`].
    Unet(UnetGenerator),
}

impl GeneratorNet {
    fn forward(&self, z: Tensor<2>, class: Option<&ClassInput<'_>>) -> Tensor<4> {
        match self {
            GeneratorNet::Mlp(g) => g.forward_class(z, class),
            GeneratorNet::DcganMnist(g) => g.forward_class(z, class),
            GeneratorNet::Dcgan(g) => g.forward_class(z, class),
            GeneratorNet::Resnet(g) => g.forward_class(z, class),
            GeneratorNet::Toy(g) => g.forward(z),
            // Noise alone: the translation of a blank (all-zero) source.
            GeneratorNet::Unet(g) => {
                let (batch, side) = (z.dims()[0], g.image_size());
                let blank = Tensor::zeros([batch, g.in_channels(), side, side], &z.device());
                g.forward(blank, z)
            }
        }
    }

    fn norm_widths(&self) -> Vec<usize> {
        match self {
            GeneratorNet::Mlp(g) => g.norm_widths(),
            GeneratorNet::DcganMnist(g) => g.norm_widths(),
            GeneratorNet::Dcgan(g) => g.norm_widths(),
            GeneratorNet::Resnet(g) => g.norm_widths(),
            GeneratorNet::Toy(_) | GeneratorNet::Unet(_) => Vec::new(),
        }
    }
}

/// Any generator of this crate, conditioned or not.
///
/// # Shapes
/// - z: `[B, latent]`; labels: `[B]` class indices (conditional generators)
/// - output: `[B, C, H, W]`
#[derive(Module, Debug)]
pub struct Generator {
    net: GeneratorNet,
    /// The label embedding joined to the noise (`concat`, `acgan`, the toy `projection`).
    label: Option<ClassEmbedding>,
    /// Class gain and bias of each normalisation layer (`projection`).
    class_norms: Vec<ClassAffine>,
}

impl Generator {
    /// Generates one sample per noise row, for the class of the same row of `labels` when the
    /// generator is conditional. A conditional generator given no labels leaves the class out
    /// (a zero label embedding, no class gain and bias).
    pub fn forward(&self, z: Tensor<2>, labels: Option<&Tensor<1, Int>>) -> Tensor<4> {
        let z = match &self.label {
            Some(embedding) => {
                let label = match labels {
                    Some(labels) => embedding.forward(labels),
                    None => Tensor::zeros([z.dims()[0], embedding.dim()], &z.device()),
                };
                Tensor::cat(vec![z, label], 1) // [B, latent + E]
            }
            None => z,
        };
        let class = labels
            .filter(|_| !self.class_norms.is_empty())
            .map(|labels| ClassInput {
                norms: &self.class_norms,
                labels,
            });
        self.net.forward(z, class.as_ref())
    }

    /// Translates each image of `source` `[B, C_in, H, W]` with the noise `[B, latent]` (for
    /// pix2pix's U-Net, its dropout masks). A generator that does not translate ignores the
    /// source and generates from the noise.
    pub fn translate(&self, source: Tensor<4>, noise: Tensor<2>) -> Tensor<4> {
        match &self.net {
            GeneratorNet::Unet(g) => g.forward(source, noise),
            _ => self.forward(noise, None),
        }
    }
}

/// The unconditioned discriminator of each architecture.
#[derive(Module, Debug)]
pub enum DiscriminatorNet {
    /// See [`MlpDiscriminator`].
    Mlp(MlpDiscriminator),
    /// See [`DcganMnistDiscriminator`].
    DcganMnist(DcganMnistDiscriminator),
    /// See [`DcganDiscriminator`].
    Dcgan(DcganDiscriminator),
    /// See [`ResnetDiscriminator`].
    Resnet(ResnetDiscriminator),
    /// See [`ToyDiscriminator`].
    Toy(ToyDiscriminator),
    /// See [`PatchGanDiscriminator`].
    PatchGan(PatchGanDiscriminator),
}

impl DiscriminatorNet {
    fn features(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            DiscriminatorNet::Mlp(d) => d.features(x),
            DiscriminatorNet::DcganMnist(d) => d.features(x),
            DiscriminatorNet::Dcgan(d) => d.features(x),
            DiscriminatorNet::Resnet(d) => d.features(x),
            DiscriminatorNet::Toy(d) => d.features(x),
            DiscriminatorNet::PatchGan(d) => d.features(x).flatten(1, 3),
        }
    }

    fn head(&self, features: Tensor<2>) -> Tensor<2> {
        match self {
            DiscriminatorNet::Mlp(d) => d.head(features),
            DiscriminatorNet::DcganMnist(d) => d.head(features),
            DiscriminatorNet::Dcgan(d) => d.head(features),
            DiscriminatorNet::Resnet(d) => d.head(features),
            DiscriminatorNet::Toy(d) => d.head(features),
            DiscriminatorNet::PatchGan(d) => d.head(d.unflatten(features)),
        }
    }

    /// The features of `x` (as [`Self::features`], in the autodiff graph) and the gradient
    /// with respect to `x` of `sum_b <features(x)_b, seed_b>` given the head's gradient per
    /// item, for the networks that compute it (no batch normalisation).
    fn features_and_input_gradient(
        &self,
        x: Tensor<4>,
        seed: impl FnOnce(Tensor<2>) -> Tensor<2>,
    ) -> Option<(Tensor<2>, Tensor<4>)> {
        let batch = x.dims()[0];
        match self {
            DiscriminatorNet::Mlp(d) => {
                Some(d.features_and_input_gradient(x, seed(d.head_gradient(batch)?)))
            }
            DiscriminatorNet::Toy(d) => {
                Some(d.features_and_input_gradient(x, seed(d.head_gradient(batch)?)))
            }
            DiscriminatorNet::DcganMnist(d) => {
                Some(d.features_and_input_gradient(x, seed(d.head_gradient(batch)?)))
            }
            DiscriminatorNet::Resnet(d) => {
                Some(d.features_and_input_gradient(x, seed(d.head_gradient(batch)?)))
            }
            DiscriminatorNet::Dcgan(_) | DiscriminatorNet::PatchGan(_) => None,
        }
    }

    fn feature_dim(&self) -> usize {
        match self {
            DiscriminatorNet::Mlp(d) => d.feature_dim(),
            DiscriminatorNet::DcganMnist(d) => d.feature_dim(),
            DiscriminatorNet::Dcgan(d) => d.feature_dim(),
            DiscriminatorNet::Resnet(d) => d.feature_dim(),
            DiscriminatorNet::Toy(d) => d.feature_dim(),
            DiscriminatorNet::PatchGan(d) => d.feature_dim(),
        }
    }
}

/// What a discriminator says about a batch.
#[derive(Debug, Clone)]
pub struct Scores {
    /// Real/fake logits, `[B, 1]`.
    pub logits: Tensor<2>,
    /// Class logits `[B, classes]` (`acgan`).
    pub class_logits: Option<Tensor<2>>,
}

/// Any discriminator of this crate, conditioned or not.
///
/// # Shapes
/// - x: `[B, C, H, W]`; labels: `[B]` class indices (conditional discriminators)
/// - output: [`Scores`]
#[derive(Module, Debug)]
pub struct Discriminator {
    net: DiscriminatorNet,
    /// The label embedding joined to the input as extra channels (`concat`).
    label_map: Option<ClassEmbedding>,
    /// Shape `[L, H, W]` of those channels.
    label_shape: [usize; 3],
    /// The class embedding the features are projected on (`projection`).
    projection: Option<ClassEmbedding>,
    /// The auxiliary classifier (`acgan`).
    classifier: Option<Linear>,
    /// Items scored together as one (PacGAN): 1, or a pack size.
    pack: usize,
    /// The minibatch standard deviation feature of the output layer, if used.
    minibatch_std: Option<MinibatchStd>,
}

impl Discriminator {
    /// The gradient of each item's adversarial logit with respect to that item, `[B, C, H, W]`,
    /// as tensor operations that are themselves differentiable in the weights, so a penalty
    /// on it (WGAN-GP, R1) trains the discriminator through an ordinary backward pass. `None`
    /// for discriminators with batch normalisation (`dcgan`'s), where an item's score depends
    /// on the whole batch; see [`Architecture::has_input_gradient`].
    pub fn input_gradient(
        &self,
        x: Tensor<4>,
        labels: Option<&Tensor<1, Int>>,
    ) -> Option<Tensor<4>> {
        self.scores_and_input_gradient(x, labels)
            .map(|(_, grad)| grad)
    }

    /// [`Self::forward`] and [`Self::input_gradient`] from one forward pass: the scores are
    /// in the autodiff graph as `forward`'s are, so a loss on them and a penalty on the
    /// gradient (R1, taken where the loss scores the real items) share the pass.
    pub fn scores_and_input_gradient(
        &self,
        x: Tensor<4>,
        labels: Option<&Tensor<1, Int>>,
    ) -> Option<(Scores, Tensor<4>)> {
        if self.minibatch_std.is_some() {
            // An item's score depends on the others of its group.
            return None;
        }
        let x = self.packed(x);
        let [batch, channels, h, w] = x.dims();
        let input = self.joined_input(x, labels);
        let projection = match (&self.projection, labels) {
            (Some(projection), Some(labels)) => Some(projection.forward(labels)), // [B, F]
            _ => None,
        };
        let seed = |head: Tensor<2>| match projection {
            Some(embedding) => head + embedding,
            None => head,
        };
        let (features, grad) = self.net.features_and_input_gradient(input, seed)?;
        let grad = grad.slice([0..batch, 0..channels, 0..h, 0..w]);
        Some((self.scores(features, labels), grad))
    }

    /// `x` `[B, C, H, W]` as packs of [`Self::pack`] consecutive items joined along the
    /// channels, `[B / pack, pack * C, H, W]` (a reshape: the items of a pack are adjacent).
    fn packed(&self, x: Tensor<4>) -> Tensor<4> {
        if self.pack == 1 {
            return x;
        }
        let [batch, channels, h, w] = x.dims();
        x.reshape([batch / self.pack, self.pack * channels, h, w])
    }

    /// Items scored together as one: 1, or PacGAN's pack size. A batch must hold whole packs.
    pub fn pack(&self) -> usize {
        self.pack
    }

    /// `x` with the label channels joined (`concat`), else `x`.
    fn joined_input(&self, x: Tensor<4>, labels: Option<&Tensor<1, Int>>) -> Tensor<4> {
        match &self.label_map {
            Some(map) => {
                let batch = x.dims()[0];
                let [l, h, w] = self.label_shape;
                let label: Tensor<4> = match labels {
                    Some(labels) => map.forward(labels).reshape([batch, l, h, w]),
                    None => Tensor::zeros([batch, l, h, w], &x.device()),
                };
                Tensor::cat(vec![x, label], 1) // [B, C + L, H, W]
            }
            None => x,
        }
    }

    /// Scores `x`, as the class of the same row of `labels` for a conditional
    /// discriminator (left out, as a zero embedding and no projection term, without labels).
    pub fn forward(&self, x: Tensor<4>, labels: Option<&Tensor<1, Int>>) -> Scores {
        let x = self.joined_input(self.packed(x), labels);
        self.scores(self.net.features(x), labels)
    }

    /// The scores of an item from its features `[B, F]`: the head, the projection on the
    /// label's embedding, the minibatch spread and the class logits, where present.
    fn scores(&self, features: Tensor<2>, labels: Option<&Tensor<1, Int>>) -> Scores {
        let mut logits = self.net.head(features.clone()); // [B, 1]
        if let (Some(projection), Some(labels)) = (&self.projection, labels) {
            logits = logits + (projection.forward(labels) * features.clone()).sum_dim(1);
        }
        if let Some(spread) = &self.minibatch_std {
            logits = logits + spread.forward(features.clone());
        }
        let class_logits = self.classifier.as_ref().map(|c| c.forward(features));
        Scores {
            logits,
            class_logits,
        }
    }
}

/// How a generator is built beyond its architecture and conditioning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeneratorOptions {
    /// Spectral normalisation of the network's linear and convolution weights (Zhang et al.
    /// 2019, SAGAN; BigGAN), not of the label embedding or the class-conditional BatchNorm
    /// tables; see [`Architecture::generator_takes_spectral_norm`].
    pub spectral_norm: bool,
}

/// How a discriminator is built beyond its architecture and conditioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscriminatorOptions {
    /// Items scored together as one (PacGAN, Lin et al. 2018): the input has `pack` times the
    /// channels, and batches must hold whole packs. Packing joins items of different classes,
    /// so it is for unconditional networks. 1: none.
    pub pack: usize,
    /// Spectral normalisation of every weight (Miyato et al. 2018; see [`crate::SpectralNorm`]).
    pub spectral_norm: bool,
    /// Items per group of the minibatch standard deviation feature (Karras et al. 2018; see
    /// [`MinibatchStd`]); 0 for none.
    pub minibatch_std: usize,
}

impl Default for DiscriminatorOptions {
    fn default() -> Self {
        Self {
            pack: 1,
            spectral_norm: false,
            minibatch_std: 0,
        }
    }
}

/// The generator and discriminator configs of one architecture.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// `mlp-mnist`.
    Mlp(MlpGeneratorConfig, MlpDiscriminatorConfig),
    /// `dcgan-mnist`.
    DcganMnist(DcganMnistGeneratorConfig, DcganMnistDiscriminatorConfig),
    /// `dcgan32`, `dcgan64` and other powers of two.
    Dcgan(DcganGeneratorConfig, DcganDiscriminatorConfig),
    /// `sngan-resnet`: SNGAN's residual networks (32x32 in the reference).
    Resnet(ResnetGeneratorConfig, ResnetDiscriminatorConfig),
    /// The 2-D toy MLP pair.
    Toy(ToyGeneratorConfig, ToyDiscriminatorConfig),
    /// pix2pix: a U-Net that translates images, and a PatchGAN that scores the source and
    /// the translation (or the target) together.
    Pix2Pix(UnetGeneratorConfig, PatchGanDiscriminatorConfig),
}

impl Architecture {
    /// Whether the discriminator computes its input gradient
    /// ([`Discriminator::input_gradient`]), as gradient penalties need: those without batch
    /// normalisation (`mlp-mnist`, `dcgan-mnist`, `sngan-resnet`, `toy-mlp`).
    pub fn has_input_gradient(&self) -> bool {
        matches!(
            self,
            Architecture::Mlp(..)
                | Architecture::Toy(..)
                | Architecture::DcganMnist(..)
                | Architecture::Resnet(..)
        )
    }

    /// Size of the generator's noise input.
    pub fn latent_dim(&self) -> usize {
        match self {
            Architecture::Mlp(g, _) => g.latent_dim,
            Architecture::DcganMnist(g, _) => g.latent_dim,
            Architecture::Dcgan(g, _) => g.latent_dim,
            Architecture::Resnet(g, _) => g.latent_dim,
            Architecture::Toy(g, _) => g.latent_dim,
            Architecture::Pix2Pix(g, _) => g.noise_dim(),
        }
    }

    /// Channels of the image a translating generator takes (`pix2pix`); `None` for the
    /// generators that start from noise alone.
    pub fn source_channels(&self) -> Option<usize> {
        match self {
            Architecture::Pix2Pix(g, _) => Some(g.in_channels),
            _ => None,
        }
    }

    /// Shape `[C, H, W]` of one training item: a sample, or for a translating architecture a
    /// source and its target joined along the channels.
    pub fn item_shape(&self) -> [usize; 3] {
        let [c, h, w] = self.sample_shape();
        [c + self.source_channels().unwrap_or(0), h, w]
    }

    /// Shape `[C, H, W]` of one generated sample.
    pub fn sample_shape(&self) -> [usize; 3] {
        match self {
            Architecture::Mlp(g, _) => g.sample_shape,
            Architecture::DcganMnist(g, _) => [g.channels, g.image_size, g.image_size],
            Architecture::Dcgan(g, _) => [g.channels, g.image_size, g.image_size],
            Architecture::Resnet(g, _) => [g.channels, g.image_size, g.image_size],
            Architecture::Toy(..) => [2, 1, 1],
            Architecture::Pix2Pix(g, _) => [g.out_channels, g.image_size, g.image_size],
        }
    }

    /// The same architecture producing `size` x `size` images (`size` x `size` inputs for
    /// the discriminator); the toy pair has no image size and is returned unchanged. Whether
    /// the size is possible is checked when the networks are built.
    pub fn with_image_size(self, size: usize) -> Self {
        match self {
            Architecture::Mlp(mut g, mut d) => {
                g.sample_shape = [g.sample_shape[0], size, size];
                d.sample_shape = g.sample_shape;
                Architecture::Mlp(g, d)
            }
            Architecture::DcganMnist(mut g, mut d) => {
                g.image_size = size;
                d.image_size = size;
                Architecture::DcganMnist(g, d)
            }
            Architecture::Dcgan(mut g, mut d) => {
                g.image_size = size;
                d.image_size = size;
                Architecture::Dcgan(g, d)
            }
            Architecture::Resnet(mut g, mut d) => {
                g.image_size = size;
                d.image_size = size;
                Architecture::Resnet(g, d)
            }
            toy @ Architecture::Toy(..) => toy,
            Architecture::Pix2Pix(mut g, mut d) => {
                g.image_size = size;
                d.image_size = size;
                Architecture::Pix2Pix(g, d)
            }
        }
    }

    /// Builds the generator from `seed`, conditioned as `conditioning` says.
    pub fn generator(
        &self,
        device: &Device,
        seed: u64,
        conditioning: &Conditioning,
    ) -> Result<Generator, ModelError> {
        self.generator_with(device, seed, conditioning, GeneratorOptions::default())
    }

    /// Whether the generator can be spectrally normalised ([`GeneratorOptions`]): those
    /// without transposed convolutions (`mlp-mnist`, `sngan-resnet`, `toy-mlp`). A transposed
    /// convolution's weight is laid out `[in, out, k, k]`, and normalising it as the
    /// convention does (`[out, in * k * k]`) needs a permutation the reparameterisation does
    /// not make.
    pub fn generator_takes_spectral_norm(&self) -> bool {
        matches!(
            self,
            Architecture::Mlp(..) | Architecture::Resnet(..) | Architecture::Toy(..)
        )
    }

    /// Builds the generator with `options` (spectral normalisation).
    pub fn generator_with(
        &self,
        device: &Device,
        seed: u64,
        conditioning: &Conditioning,
        options: GeneratorOptions,
    ) -> Result<Generator, ModelError> {
        if options.spectral_norm && !self.generator_takes_spectral_norm() {
            return Err(ModelError::Unsupported {
                option: "spectral_norm_g",
                reason: "the generator has transposed convolutions; mlp-mnist, sngan-resnet \
                         and toy-mlp take it"
                    .into(),
            });
        }
        conditioning.check()?;
        self.check_translation(conditioning, 1)?;
        let init = &mut WeightInit::new(seed);
        let (classes, embed_dim) = (conditioning.classes, conditioning.embed_dim);
        let class_norm = conditioning.method == ConditioningMethod::Projection
            && !matches!(self, Architecture::Toy(..));
        let embeds_label = conditioning.is_conditional() && !class_norm;
        let net = match embeds_label {
            true => self.with_latent_dim(self.latent_dim() + embed_dim),
            false => self.clone(),
        }
        .generator_net(device, init)?;
        let net = match options.spectral_norm {
            true => net.apply_reparameterization(spectral::Normalizer::new(init)),
            false => net,
        };
        // The noise's embedding is N(0, 1), like the noise it joins.
        let label = embeds_label.then(|| init.embedding(classes, embed_dim, 1.0, device));
        let class_norms = match class_norm {
            true => net
                .norm_widths()
                .into_iter()
                .map(|channels| init.class_affine(classes, channels, device))
                .collect(),
            false => Vec::new(),
        };
        Ok(Generator {
            net,
            label,
            class_norms,
        })
    }

    /// Builds the discriminator from `seed`, conditioned as `conditioning` says.
    pub fn discriminator(
        &self,
        device: &Device,
        seed: u64,
        conditioning: &Conditioning,
    ) -> Result<Discriminator, ModelError> {
        self.discriminator_with(device, seed, conditioning, DiscriminatorOptions::default())
    }

    /// Builds a discriminator with `options`: packing (see [`DiscriminatorOptions::pack`]) and
    /// spectral normalisation of every weight.
    pub fn discriminator_with(
        &self,
        device: &Device,
        seed: u64,
        conditioning: &Conditioning,
        options: DiscriminatorOptions,
    ) -> Result<Discriminator, ModelError> {
        let pack = options.pack;
        conditioning.check()?;
        positive("pack", pack)?;
        self.check_translation(conditioning, pack)?;
        if options.minibatch_std > 0 && matches!(self, Architecture::Pix2Pix(..)) {
            return Err(ModelError::InvalidSize {
                field: "minibatch_std",
                value: options.minibatch_std,
                reason: "a PatchGAN scores patches of one picture, not a batch's spread".into(),
            });
        }
        if pack > 1 && conditioning.is_conditional() {
            return Err(ModelError::InvalidSize {
                field: "pack",
                value: pack,
                reason: "packing joins items of different classes: it is for unconditional \
                         networks"
                    .into(),
            });
        }
        let init = &mut WeightInit::new(seed);
        let classes = conditioning.classes;
        let [_, h, w] = self.sample_shape();
        // Label channels: at least `embed_dim` label values per item.
        let label_shape = [conditioning.embed_dim.div_ceil(h * w), h, w];
        let label_input = conditioning.method == ConditioningMethod::Concat;
        let channels = self.sample_shape()[0];
        let extra = (pack - 1) * channels + if label_input { label_shape[0] } else { 0 };
        let net = self
            .with_discriminator_inputs(extra)
            .discriminator_net(device, init)?;
        let features = net.feature_dim();
        let label_map =
            label_input.then(|| init.embedding(classes, label_shape.iter().product(), 1.0, device));
        let projection = (conditioning.method == ConditioningMethod::Projection)
            .then(|| init.embedding(classes, features, WEIGHT_STD, device));
        let classifier = (conditioning.method == ConditioningMethod::Acgan)
            .then(|| init.linear(features, classes, true, device));
        let discriminator = Discriminator {
            net,
            label_map,
            label_shape,
            projection,
            classifier,
            pack,
            minibatch_std: (options.minibatch_std > 0)
                .then(|| MinibatchStd::new(options.minibatch_std, device)),
        };
        Ok(match options.spectral_norm {
            true => discriminator.apply_reparameterization(spectral::Normalizer::new(init)),
            false => discriminator,
        })
    }

    fn generator_net(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<GeneratorNet, ModelError> {
        Ok(match self {
            Architecture::Mlp(g, _) => GeneratorNet::Mlp(g.init(device, init)?),
            Architecture::DcganMnist(g, _) => GeneratorNet::DcganMnist(g.init(device, init)?),
            Architecture::Dcgan(g, _) => GeneratorNet::Dcgan(g.init(device, init)?),
            Architecture::Resnet(g, _) => GeneratorNet::Resnet(g.init(device, init)?),
            Architecture::Toy(g, _) => GeneratorNet::Toy(g.init(device, init)?),
            Architecture::Pix2Pix(g, _) => GeneratorNet::Unet(g.init(device, init)?),
        })
    }

    fn discriminator_net(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<DiscriminatorNet, ModelError> {
        Ok(match self {
            Architecture::Mlp(_, d) => DiscriminatorNet::Mlp(d.init(device, init)?),
            Architecture::DcganMnist(_, d) => DiscriminatorNet::DcganMnist(d.init(device, init)?),
            Architecture::Dcgan(_, d) => DiscriminatorNet::Dcgan(d.init(device, init)?),
            Architecture::Resnet(_, d) => DiscriminatorNet::Resnet(d.init(device, init)?),
            Architecture::Toy(_, d) => DiscriminatorNet::Toy(d.init(device, init)?),
            Architecture::Pix2Pix(_, d) => DiscriminatorNet::PatchGan(d.init(device, init)?),
        })
    }

    /// A translating architecture takes no classes and no packs.
    fn check_translation(
        &self,
        conditioning: &Conditioning,
        pack: usize,
    ) -> Result<(), ModelError> {
        if self.source_channels().is_none() {
            return Ok(());
        }
        if conditioning.is_conditional() {
            return Err(ModelError::InvalidSize {
                field: "classes",
                value: conditioning.classes,
                reason: "pix2pix translates images; it is not class-conditional".into(),
            });
        }
        if pack > 1 {
            return Err(ModelError::InvalidSize {
                field: "pack",
                value: pack,
                reason: "pix2pix's discriminator scores patches of one item".into(),
            });
        }
        Ok(())
    }

    /// The same architecture with a generator input of `latent_dim` values.
    fn with_latent_dim(&self, latent_dim: usize) -> Self {
        let mut arch = self.clone();
        match &mut arch {
            Architecture::Mlp(g, _) => g.latent_dim = latent_dim,
            Architecture::DcganMnist(g, _) => g.latent_dim = latent_dim,
            Architecture::Dcgan(g, _) => g.latent_dim = latent_dim,
            Architecture::Resnet(g, _) => g.latent_dim = latent_dim,
            Architecture::Toy(g, _) => g.latent_dim = latent_dim,
            // Its noise is its dropout masks, sized by the network.
            Architecture::Pix2Pix(..) => {}
        }
        arch
    }

    /// The same architecture with `extra` more input channels in the discriminator.
    fn with_discriminator_inputs(&self, extra: usize) -> Self {
        let mut arch = self.clone();
        match &mut arch {
            Architecture::Mlp(_, d) => d.sample_shape[0] += extra,
            Architecture::DcganMnist(_, d) => d.channels += extra,
            Architecture::Dcgan(_, d) => d.channels += extra,
            Architecture::Resnet(_, d) => d.channels += extra,
            Architecture::Toy(_, d) => d.inputs += extra,
            Architecture::Pix2Pix(_, d) => d.channels += extra,
        }
        arch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use burn::module::{ModuleVisitor, Param};
    use burn::tensor::Distribution;

    struct Collect(Vec<f32>);

    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0
                .extend(param.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }

    fn weights(g: &Generator) -> Vec<f32> {
        let mut collect = Collect(Vec::new());
        g.visit(&mut collect);
        collect.0
    }

    #[test]
    fn same_seed_same_weights_other_seed_other_weights() {
        let device = Device::flex();
        let arch = Architecture::DcganMnist(
            DcganMnistGeneratorConfig::mnist(),
            DcganMnistDiscriminatorConfig::mnist(),
        );
        let none = Conditioning::none();
        let a = weights(&arch.generator(&device, 7, &none).unwrap());
        let b = weights(&arch.generator(&device, 7, &none).unwrap());
        let c = weights(&arch.generator(&device, 8, &none).unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    fn packing(pack: usize) -> DiscriminatorOptions {
        DiscriminatorOptions {
            pack,
            ..DiscriminatorOptions::default()
        }
    }

    fn small_architectures() -> Vec<Architecture> {
        vec![
            Architecture::Mlp(
                MlpGeneratorConfig {
                    latent_dim: 4,
                    hidden: vec![8],
                    sample_shape: [1, 4, 4],
                },
                MlpDiscriminatorConfig {
                    sample_shape: [1, 4, 4],
                    hidden: vec![8],
                },
            ),
            Architecture::DcganMnist(
                DcganMnistGeneratorConfig {
                    latent_dim: 4,
                    width: 8,
                    channels: 1,
                    image_size: 8,
                },
                DcganMnistDiscriminatorConfig {
                    width: 4,
                    channels: 1,
                    image_size: 8,
                },
            ),
            Architecture::Dcgan(
                DcganGeneratorConfig {
                    latent_dim: 4,
                    width: 4,
                    channels: 3,
                    image_size: 8,
                },
                DcganDiscriminatorConfig {
                    width: 4,
                    channels: 3,
                    image_size: 8,
                },
            ),
            Architecture::Resnet(
                ResnetGeneratorConfig {
                    latent_dim: 4,
                    width: 4,
                    channels: 3,
                    image_size: 8,
                },
                ResnetDiscriminatorConfig {
                    width: 4,
                    channels: 3,
                    image_size: 8,
                },
            ),
            Architecture::Toy(
                ToyGeneratorConfig {
                    latent_dim: 4,
                    width: 8,
                    depth: 2,
                },
                ToyDiscriminatorConfig::default(),
            ),
        ]
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// Every method on every architecture: the shapes hold, and changing only the labels
    /// changes what the generator makes and what the discriminator says (after one class
    /// table has moved away from its zero start, for the class-conditional normalisation).
    #[test]
    fn labels_change_outputs_for_every_method_and_architecture() {
        let device = Device::flex();
        let labels = |l: [i64; 2]| Tensor::<1, Int>::from_ints(l, &device);
        for arch in small_architectures() {
            for method in [
                ConditioningMethod::Concat,
                ConditioningMethod::Projection,
                ConditioningMethod::Acgan,
            ] {
                let cond = Conditioning::new(method, 3).with_embed_dim(5);
                let mut g = arch.generator(&device, 1, &cond).unwrap();
                for affine in &mut g.class_norms {
                    // The class gains start at zero, alike for every class: move them apart.
                    let dims = affine.gain.weight.dims();
                    let gain = Tensor::random(dims, Distribution::Normal(0.0, 1.0), &device);
                    affine.gain.weight = Param::from_tensor(gain);
                }
                let d = arch.discriminator(&device, 2, &cond).unwrap();
                let z = Tensor::<2>::ones([2, 4], &device);
                let shape = arch.sample_shape();
                let a = g.forward(z.clone(), Some(&labels([0, 0])));
                let b = g.forward(z, Some(&labels([2, 2])));
                assert_eq!(a.dims(), [2, shape[0], shape[1], shape[2]]);
                assert_ne!(values(a.clone()), values(b), "{arch:?} {method:?}: G");
                let s0 = d.forward(a.clone(), Some(&labels([0, 0])));
                let s1 = d.forward(a, Some(&labels([1, 1])));
                assert_eq!(s0.logits.dims(), [2, 1]);
                match method {
                    ConditioningMethod::Acgan => {
                        let classes = s0.class_logits.unwrap();
                        assert_eq!(classes.dims(), [2, 3]);
                        assert_eq!(values(s0.logits), values(s1.logits), "D ignores labels");
                    }
                    _ => {
                        assert!(s0.class_logits.is_none());
                        assert_ne!(
                            values(s0.logits),
                            values(s1.logits),
                            "{arch:?} {method:?}: D"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn unconditional_networks_ignore_labels_and_conditioning_needs_classes() {
        let device = Device::flex();
        let arch = &small_architectures()[1];
        let g = arch.generator(&device, 1, &Conditioning::none()).unwrap();
        let z = Tensor::<2>::ones([2, 4], &device);
        let labels = Tensor::<1, Int>::from_ints([0, 1], &device);
        let a = values(g.valid().forward(z.clone(), None));
        let b = values(g.valid().forward(z, Some(&labels)));
        assert_eq!(a, b);
        let one_class = Conditioning::new(ConditioningMethod::Concat, 1);
        let err = arch.generator(&device, 1, &one_class).unwrap_err();
        assert!(err.to_string().contains("at least 2 classes"), "{err}");
    }

    /// The hand-written input gradient equals burn's autodiff gradient of the summed logits,
    /// for every conditioning method (and packing) of the networks that have one; the others
    /// have none.
    #[test]
    fn input_gradient_matches_autodiff() {
        let device = Device::flex().autodiff();
        let labels = Tensor::<1, Int>::from_ints([0, 2, 1], &device);
        for arch in small_architectures() {
            for (method, pack) in [
                (ConditioningMethod::None, 1),
                (ConditioningMethod::None, 3),
                (ConditioningMethod::Concat, 1),
                (ConditioningMethod::Projection, 1),
                (ConditioningMethod::Acgan, 1),
            ] {
                let classes = if method == ConditioningMethod::None {
                    0
                } else {
                    3
                };
                let cond = Conditioning::new(method, classes).with_embed_dim(5);
                let d = arch
                    .discriminator_with(&device, 2, &cond, packing(pack))
                    .unwrap();
                let [c, h, w] = arch.sample_shape();
                let x = Tensor::<4>::random([3, c, h, w], Distribution::Normal(0.0, 1.0), &device)
                    .require_grad();
                let labels = cond.is_conditional().then_some(&labels);
                let ours = d.input_gradient(x.clone(), labels);
                assert_eq!(ours.is_some(), arch.has_input_gradient(), "{arch:?}");
                let Some(ours) = ours else { continue };
                let logits = d.forward(x.clone(), labels).logits;
                let reference = x.grad(&logits.sum().backward()).unwrap();
                let (ours, reference) = (values(ours), values(reference));
                let scale = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                assert!(scale > 0.0);
                for (a, b) in ours.iter().zip(&reference) {
                    assert!(
                        (a - b).abs() <= 1e-5 * scale,
                        "{arch:?} {method:?}: {a} vs {b}"
                    );
                }
                // One pass for both: the same scores, in the graph, and the same gradient.
                let (scores, shared) = d.scores_and_input_gradient(x.clone(), labels).unwrap();
                let forward = d.forward(x.clone(), labels);
                assert_eq!(values(scores.logits.clone()), values(forward.logits));
                assert_eq!(
                    scores.class_logits.map(values),
                    forward.class_logits.map(values)
                );
                assert_eq!(values(shared), ours, "{arch:?} {method:?}");
                let through_scores = x.grad(&scores.logits.sum().backward()).unwrap();
                assert_eq!(values(through_scores), reference, "{arch:?} {method:?}");
            }
        }
    }

    /// A packed discriminator scores each pack of consecutive items as one: changing an item
    /// changes its own pack's score only. Packing is refused for conditional networks.
    #[test]
    fn packs_score_their_own_items() {
        let device = Device::flex();
        let arch = &small_architectures()[0];
        let d = arch
            .discriminator_with(&device, 2, &Conditioning::none(), packing(2))
            .unwrap();
        let [c, h, w] = arch.sample_shape();
        let x = Tensor::<4>::random([4, c, h, w], Distribution::Normal(0.0, 1.0), &device);
        let a = values(d.forward(x.clone(), None).logits);
        assert_eq!(a.len(), 2);
        let changed = x.slice_assign(
            [3..4, 0..c, 0..h, 0..w],
            Tensor::zeros([1, c, h, w], &device),
        );
        let b = values(d.forward(changed, None).logits);
        assert_eq!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
        let concat = Conditioning::new(ConditioningMethod::Concat, 3);
        let err = arch
            .discriminator_with(&device, 2, &concat, packing(2))
            .unwrap_err();
        assert!(err.to_string().contains("pack"), "{err}");
    }
}
