//! Objectives: what one training iteration does with a batch.
//!
//! The loop hands an [`Objective`] the networks ([`Gan`]) and a [`Batch`] and gets them back
//! updated with named statistics; it never asks which kind of GAN it runs. The two
//! objectives here share their discriminator and generator steps, and differ in what they
//! give the networks: [`Unconditional`] gives noise only, [`ClassConditional`] noise and
//! labels (and, for AC-GAN, adds the auxiliary classification term to both steps).

use crate::ada::{AdaSpec, AdaState};
use crate::ema::{Ema, EmaSpec};
use burn::module::{ModuleMapper, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use ganforge_kernels::{FusedAdam, FusedRmsProp};
use ganforge_losses::{AdversarialLoss, LeCam, Penalty, class_cross_entropy};
use ganforge_models::{
    Architecture, AugmentPolicy, Conditioning, Discriminator, DiscriminatorOptions, Generator,
    GeneratorOptions, ModelError, Scores,
};
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// Adam's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamSpec {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator epsilon.
    pub epsilon: f32,
}

impl AdamSpec {
    /// DCGAN's: `lr = 2e-4`, `betas = (0.5, 0.999)`, PyTorch's epsilon.
    pub const DCGAN: Self = Self {
        lr: 2e-4,
        beta1: 0.5,
        beta2: 0.999,
        epsilon: 1e-8,
    };

    /// An Adam optimiser with these hyper-parameters (fused on flex, burn's elsewhere).
    pub fn optimizer(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(FusedAdam::new(self.beta1, self.beta2, self.epsilon))
    }
}

/// RMSProp's hyper-parameters (Tieleman and Hinton 2012; the original WGAN's optimiser), as
/// PyTorch's `RMSprop` without momentum: `v = alpha v + (1 - alpha) g^2`,
/// `w -= lr g / (sqrt(v) + epsilon)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RmsPropSpec {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the squared-gradient average.
    pub alpha: f32,
    /// Denominator epsilon.
    pub epsilon: f32,
}

impl RmsPropSpec {
    /// PyTorch's defaults (`alpha = 0.99`, `epsilon = 1e-8`) at WGAN's `lr = 5e-5`.
    pub const WGAN: Self = Self {
        lr: 5e-5,
        alpha: 0.99,
        epsilon: 1e-8,
    };
}

/// A network's optimiser. Serialised as its hyper-parameters alone, so a spec saved before
/// RMSProp existed still reads as Adam.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum OptimizerSpec {
    /// Adam.
    Adam(AdamSpec),
    /// RMSProp.
    RmsProp(RmsPropSpec),
}

impl OptimizerSpec {
    /// `adam` or `rmsprop`, as `optimizer.*.kind` names it.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerSpec::Adam(_) => "adam",
            OptimizerSpec::RmsProp(_) => "rmsprop",
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerSpec::Adam(a) => a.lr,
            OptimizerSpec::RmsProp(r) => r.lr,
        }
    }

    /// The same optimiser at learning rate `lr`.
    pub fn with_lr(self, lr: f64) -> Self {
        match self {
            OptimizerSpec::Adam(a) => OptimizerSpec::Adam(AdamSpec { lr, ..a }),
            OptimizerSpec::RmsProp(r) => OptimizerSpec::RmsProp(RmsPropSpec { lr, ..r }),
        }
    }

    /// The optimiser.
    pub fn optimizer(&self) -> ModuleOptimizer {
        match self {
            OptimizerSpec::Adam(a) => a.optimizer(),
            OptimizerSpec::RmsProp(r) => {
                ModuleOptimizer::from(FusedRmsProp::new(r.alpha, r.epsilon))
            }
        }
    }
}

impl From<AdamSpec> for OptimizerSpec {
    fn from(adam: AdamSpec) -> Self {
        OptimizerSpec::Adam(adam)
    }
}

/// What a pair of networks is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct GanSpec {
    /// The architecture.
    pub architecture: Architecture,
    /// Class conditioning.
    pub conditioning: Conditioning,
    /// The generator's optimiser.
    pub generator_optimizer: OptimizerSpec,
    /// The discriminator's optimiser.
    pub discriminator_optimizer: OptimizerSpec,
    /// A moving average of the generator's weights, if one is kept.
    pub ema: Option<EmaSpec>,
    /// Items the discriminator scores together as one (PacGAN); 1 for none.
    pub pack: usize,
    /// Spectral normalisation of the discriminator's weights.
    pub spectral_norm: bool,
    /// How the generator (and its moving average) is built beyond its architecture.
    pub generator_options: GeneratorOptions,
    /// Items per group of the discriminator's minibatch standard deviation feature; 0 for
    /// none.
    pub minibatch_std: usize,
    /// LeCam regularisation of the discriminator, if any (its moving averages live in [`Gan`]).
    pub lecam: Option<LeCam>,
    /// Adaptive augmentation, if the augmentation probability adapts (its state lives in
    /// [`Gan`]).
    pub ada: Option<AdaSpec>,
}

/// Seeds of the generator's and the discriminator's initial weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitSeeds {
    /// Generator weights.
    pub generator: u64,
    /// Discriminator weights.
    pub discriminator: u64,
}

/// The two networks and their optimisers.
pub struct Gan {
    /// The generator.
    pub generator: Generator,
    /// The discriminator.
    pub discriminator: Discriminator,
    /// The generator's optimiser.
    pub generator_optimizer: ModuleOptimizer,
    /// The discriminator's optimiser.
    pub discriminator_optimizer: ModuleOptimizer,
    /// Generator learning rate.
    pub generator_lr: f64,
    /// Discriminator learning rate.
    pub discriminator_lr: f64,
    /// The moving average of the generator's weights, if one is kept.
    pub ema: Option<Ema>,
    /// LeCam's moving averages of the discriminator's scores on real and generated items `[2]`,
    /// when the objective regularises with it.
    pub lecam_anchors: Option<Tensor<1>>,
    /// The adaptive augmentation probability and its window, when augmentation adapts.
    pub ada: Option<AdaState>,
}

impl Gan {
    /// Builds both networks on `device` (an autodiff device, to train) from `seeds`, with
    /// fresh optimisers. Training, benchmarks and tests all build their GANs here.
    pub fn new(spec: &GanSpec, device: &Device, seeds: InitSeeds) -> Result<Self, ModelError> {
        let build_generator = || {
            spec.architecture.generator_with(
                device,
                seeds.generator,
                &spec.conditioning,
                spec.generator_options,
            )
        };
        let generator = build_generator()?;
        let options = DiscriminatorOptions {
            pack: spec.pack,
            spectral_norm: spec.spectral_norm,
            minibatch_std: spec.minibatch_std,
        };
        let discriminator = spec.architecture.discriminator_with(
            device,
            seeds.discriminator,
            &spec.conditioning,
            options,
        )?;
        let ema = match spec.ema {
            Some(ema) => Some(Ema::new(ema, build_generator()?)),
            None => None,
        };
        Ok(Self {
            generator,
            discriminator,
            generator_optimizer: spec.generator_optimizer.optimizer(),
            discriminator_optimizer: spec.discriminator_optimizer.optimizer(),
            generator_lr: spec.generator_optimizer.lr(),
            discriminator_lr: spec.discriminator_optimizer.lr(),
            ema,
            lecam_anchors: spec.lecam.map(|_| Tensor::zeros([2], device)),
            ada: spec.ada.map(|ada| AdaState::new(ada, device)),
        })
    }

    /// The probability of each augmentation: the adaptive one when augmentation adapts, else 1.
    fn augment_probability(&self) -> f32 {
        self.ada.as_ref().map_or(1.0, |ada| ada.probability)
    }

    /// The generator samples come from: the moving average when one is kept.
    pub fn sampling_generator(&self) -> &Generator {
        self.ema
            .as_ref()
            .map_or(&self.generator, |ema| &ema.generator)
    }

    /// Blends the generator into its moving average, if one is kept, after iteration
    /// `iteration` (counted from 1).
    pub fn update_average(&mut self, iteration: u64) {
        if let Some(ema) = &mut self.ema {
            ema.update(&self.generator, iteration);
        }
    }
}

/// One batch of a training iteration, on the autodiff device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Real items `[B, C, H, W]`.
    pub real: Tensor<4>,
    /// Their class labels `[B]`, when the objective uses them.
    pub labels: Option<Tensor<1, Int>>,
    /// Generator noise `[B, latent]`.
    pub noise: Tensor<2>,
    /// Classes to generate `[B]`, when the objective uses them.
    pub fake_labels: Option<Tensor<1, Int>>,
    /// An image the generator translates (image-to-image objectives).
    pub condition: Option<Tensor<4>>,
    /// The image a translation should produce.
    pub target: Option<Tensor<4>>,
    /// Per item, the share `[B, 1, 1, 1]` of the real item in the point between it and the
    /// generated one where a gradient penalty is taken (WGAN-GP).
    pub penalty_mix: Option<Tensor<4>>,
    /// Discriminator steps taken before the one on this batch, from 0: the schedule of a
    /// penalty applied every few steps.
    pub step: u64,
}

/// Host-side randomness and shapes for turning loader batches into [`Batch`]es.
#[derive(Debug, Clone, Copy)]
pub struct BatchShape {
    /// Noise values per item.
    pub latent_dim: usize,
    /// Classes to draw generated labels from (conditional objectives).
    pub classes: Option<usize>,
    /// Whether to draw [`Batch::penalty_mix`].
    pub penalty_mix: bool,
    /// For image-to-image objectives: how items split into a source and a target, and the
    /// dropout the noise stands for.
    pub pairs: Option<PairShape>,
}

/// How the items of a paired dataset become [`Batch::condition`] and [`Batch::target`], and
/// what the noise of a translating generator is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairShape {
    /// Channels of the source; the rest of an item's channels are the target's.
    pub source_channels: usize,
    /// The generator's dropout probability: each noise value is 0 with this probability and
    /// `1 / (1 - p)` otherwise (a dropout mask), rather than a normal draw.
    pub dropout: f64,
    /// Inpainting: the source's last channel marks the known pixels (1) and the hole (0); a
    /// translation keeps the known pixels and is judged on the hole.
    pub masked: bool,
}

impl PairShape {
    /// The pairs of an image-to-image architecture (`None` for one that generates from
    /// noise); `masked` for an inpainter's.
    pub fn of(architecture: &Architecture, masked: bool) -> Option<Self> {
        match architecture {
            Architecture::Pix2Pix(g, _) => Some(Self {
                source_channels: g.in_channels,
                dropout: g.dropout,
                masked,
            }),
            _ => None,
        }
    }
}

impl BatchShape {
    /// A batch of `real` items (with `labels`), fresh noise and, for a conditional objective,
    /// uniformly drawn classes to generate, all drawn from `rng`.
    pub fn batch(
        &self,
        real: Tensor<4>,
        labels: Option<Vec<u32>>,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Batch {
        let batch = real.dims()[0];
        let values = match self.pairs {
            Some(pairs) => dropout_masks(rng, batch * self.latent_dim, pairs.dropout),
            None => normal_noise(rng, batch * self.latent_dim),
        };
        let noise = Tensor::from_data(TensorData::new(values, [batch, self.latent_dim]), device);
        let (labels, fake_labels) = match self.classes {
            Some(classes) => {
                let fake: Vec<u32> = (0..batch)
                    .map(|_| rng.random_range(0..classes as u32))
                    .collect();
                (
                    labels.map(|l| label_tensor(&l, device)),
                    Some(label_tensor(&fake, device)),
                )
            }
            None => (None, None),
        };
        let penalty_mix = self.penalty_mix.then(|| {
            let mix: Vec<f32> = (0..batch).map(|_| rng.random::<f32>()).collect();
            Tensor::from_data(TensorData::new(mix, [batch, 1, 1, 1]), device)
        });
        let (real, condition, target) = match self.pairs {
            Some(pairs) => {
                let channels = real.dims()[1];
                let split = pairs.source_channels.min(channels);
                let source = real.clone().narrow(1, 0, split);
                let target = real.narrow(1, split, channels - split);
                (target.clone(), Some(source), Some(target))
            }
            None => (real, None, None),
        };
        Batch {
            real,
            labels,
            noise,
            fake_labels,
            condition,
            target,
            penalty_mix,
            step: 0,
        }
    }
}

/// `n` dropout mask values: 0 with probability `p`, else `1 / (1 - p)`.
pub fn dropout_masks(rng: &mut impl Rng, n: usize, p: f64) -> Vec<f32> {
    let keep = (1.0 / (1.0 - p)) as f32;
    (0..n)
        .map(|_| if rng.random::<f64>() < p { 0.0 } else { keep })
        .collect()
}

/// Labels as an integer tensor `[B]`.
pub fn label_tensor(labels: &[u32], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::from_data(TensorData::new(values, [labels.len()]), device)
}

/// `n` draws of a standard normal, as `f32`.
pub fn normal_noise(rng: &mut impl Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// Statistics of one iteration, detached and still on the device (reading them forces a
/// sync, so the loop reads them only when it logs).
#[derive(Debug, Clone)]
pub struct StepStats {
    /// One value per name of [`Objective::stat_names`], shape `[N]`.
    pub values: Tensor<1>,
}

/// Names of the statistics every objective reports first, in this order.
pub const CORE_STATS: [&str; 4] = ["loss_d", "loss_g", "d_real", "d_fake"];
/// The statistics an objective reports: [`CORE_STATS`], then AC-GAN's cross-entropy on real
/// and generated items, the weighted gradient penalty and the adaptive augmentation
/// probability, each where the objective has it.
fn stat_names(acgan: bool, regularisers: &Regularisers) -> Vec<&'static str> {
    let mut names = CORE_STATS.to_vec();
    if acgan {
        names.extend(["class_loss_real", "class_loss_fake"]);
    }
    if regularisers.penalty.is_some() {
        names.push("penalty");
    }
    if regularisers.augment.is_some_and(|augment| augment.adaptive) {
        names.push("augment_p");
    }
    names
}

/// Marks the end of each phase of an iteration, for `ganforge bench --profile`.
pub trait PhaseClock {
    /// The phase called `phase` has just ended.
    fn lap(&mut self, phase: &'static str);
}

/// A clock that records nothing (training).
pub struct NoClock;

impl PhaseClock for NoClock {
    fn lap(&mut self, _phase: &'static str) {}
}

/// What one training iteration does.
pub trait Objective: Send {
    /// Names of the statistics [`Self::iteration`] returns; [`CORE_STATS`] first.
    fn stat_names(&self) -> Vec<&'static str>;

    /// Shapes of the batches this objective takes.
    fn batch_shape(&self) -> BatchShape;

    /// One iteration: a discriminator step on each batch of `critic` (empty when
    /// `n_critic = 1`), then one on `batch`, then the generator step, which reuses the
    /// generated items of that last discriminator step scored by the updated discriminator.
    fn iteration(
        &self,
        gan: Gan,
        critic: Vec<Batch>,
        batch: Batch,
        clock: &mut dyn PhaseClock,
    ) -> (Gan, StepStats);
}

/// What regularises the discriminator beyond its adversarial loss; nothing by default.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Regularisers {
    /// A penalty on the discriminator's input gradient (WGAN-GP, R1).
    pub penalty: Option<Penalty>,
    /// LeCam regularisation.
    pub lecam: Option<LeCam>,
    /// Clip every discriminator weight to `[-c, c]` after each of its steps (the original
    /// WGAN's constraint).
    pub weight_clip: Option<f32>,
    /// DiffAugment of everything the discriminator scores, in both steps.
    pub augment: Option<Augmentation>,
}

/// DiffAugment (Zhao et al. 2020) of the discriminator's inputs, real and generated, in both
/// steps, with factors drawn from its own seed and the step, so a resumed run augments as an
/// uninterrupted one does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augmentation {
    /// Which augmentations.
    pub policy: AugmentPolicy,
    /// Seed of the random factors.
    pub seed: u64,
    /// Whether each augmentation applies with the adaptive probability of [`Gan::ada`]
    /// (reported as `augment_p`) rather than with [`Self::probability`].
    pub adaptive: bool,
    /// The probability with which each augmentation applies to each image when it does not
    /// adapt (1: always).
    pub probability: f32,
}

/// The discriminator's inputs an [`Augmentation`] draws separate factors for.
#[derive(Debug, Clone, Copy)]
enum Scored {
    Real = 0,
    /// Generated items in the discriminator step.
    Generated = 1,
    /// Generated items in the generator step.
    GeneratorStep = 2,
}

impl Augmentation {
    /// `images` augmented as the `scored` input of discriminator step `step`, each
    /// augmentation with `probability`.
    fn apply(&self, images: Tensor<4>, step: u64, scored: Scored, probability: f32) -> Tensor<4> {
        let stream = step.wrapping_mul(3).wrapping_add(scored as u64);
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(self.seed ^ stream.wrapping_mul(GOLDEN));
        self.policy
            .apply_with_probability(images, probability, &mut rng)
    }
}

/// The golden ratio in 64-bit fixed point: spreads consecutive streams over the seed space.
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// `images` augmented by `augment` as `scored` of step `step` (with `gan`'s adaptive
/// probability, if it keeps one), or unchanged without an augmentation.
fn augmented(
    augment: Option<Augmentation>,
    gan: &Gan,
    images: Tensor<4>,
    step: u64,
    scored: Scored,
) -> Tensor<4> {
    match augment {
        Some(augment) => {
            let probability = match augment.adaptive {
                true => gan.augment_probability(),
                false => augment.probability,
            };
            augment.apply(images, step, scored, probability)
        }
        None => images,
    }
}

impl Regularisers {
    /// Whether batches need [`Batch::penalty_mix`] (a penalty on interpolates).
    fn needs_penalty_mix(&self) -> bool {
        self.penalty.is_some_and(|p| p.on_interpolates())
    }
}

/// The plain GAN: noise in, samples out.
pub struct Unconditional {
    /// The adversarial loss.
    pub loss: Box<dyn AdversarialLoss>,
    /// What regularises the discriminator beyond its loss.
    pub regularisers: Regularisers,
    /// Size of a noise vector.
    pub latent_dim: usize,
}

impl Objective for Unconditional {
    fn stat_names(&self) -> Vec<&'static str> {
        stat_names(false, &self.regularisers)
    }

    fn batch_shape(&self) -> BatchShape {
        BatchShape {
            latent_dim: self.latent_dim,
            classes: None,
            penalty_mix: self.regularisers.needs_penalty_mix(),
            pairs: None,
        }
    }

    fn iteration(
        &self,
        gan: Gan,
        critic: Vec<Batch>,
        batch: Batch,
        clock: &mut dyn PhaseClock,
    ) -> (Gan, StepStats) {
        Steps::new(self.loss.as_ref(), None, self.regularisers).iteration(gan, critic, batch, clock)
    }
}

/// A class-conditional GAN: the networks see labels (`concat`, `projection`), or the
/// discriminator also classifies (`acgan`, with `class_weight`).
pub struct ClassConditional {
    /// The adversarial loss.
    pub loss: Box<dyn AdversarialLoss>,
    /// What regularises the discriminator beyond its loss.
    pub regularisers: Regularisers,
    /// Size of a noise vector.
    pub latent_dim: usize,
    /// Number of classes.
    pub classes: usize,
    /// Weight of the auxiliary classification term in both steps (AC-GAN), if any.
    pub class_weight: Option<f32>,
}

impl Objective for ClassConditional {
    fn stat_names(&self) -> Vec<&'static str> {
        stat_names(self.class_weight.is_some(), &self.regularisers)
    }

    fn batch_shape(&self) -> BatchShape {
        BatchShape {
            latent_dim: self.latent_dim,
            classes: Some(self.classes),
            penalty_mix: self.regularisers.needs_penalty_mix(),
            pairs: None,
        }
    }

    fn iteration(
        &self,
        gan: Gan,
        critic: Vec<Batch>,
        batch: Batch,
        clock: &mut dyn PhaseClock,
    ) -> (Gan, StepStats) {
        Steps::new(self.loss.as_ref(), self.class_weight, self.regularisers)
            .iteration(gan, critic, batch, clock)
    }
}

/// Clamps every weight to `[-bound, bound]`, keeping it a leaf that requires gradients;
/// BatchNorm's running statistics (`running_mean`, `running_var`) are not weights and are
/// left alone.
struct Clip {
    bound: f32,
    path: Vec<String>,
}

impl ModuleMapper for Clip {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self
            .path
            .last()
            .is_some_and(|name| name.starts_with("running_"))
        {
            return param;
        }
        let bound = self.bound;
        param.map(|t| match t.is_autodiff() {
            // A fresh leaf: clamped outside the graph, then tracked again.
            true => Tensor::from_inner(t.inner().clamp(-bound, bound)).require_grad(),
            false => t.clamp(-bound, bound),
        })
    }
}

/// The discriminator and generator steps both objectives run.
struct Steps<'a> {
    loss: &'a dyn AdversarialLoss,
    class_weight: Option<f32>,
    regularisers: Regularisers,
}

/// A discriminator step's generated batch (with its graph) and statistics, each detached `[1]`.
struct DiscriminatorOutcome {
    fake: Tensor<4>,
    fake_labels: Option<Tensor<1, Int>>,
    loss: Tensor<1>,
    d_real: Tensor<1>,
    d_fake: Tensor<1>,
    /// The class losses on real and generated items (AC-GAN).
    class_losses: Vec<Tensor<1>>,
    /// The weighted penalty, when there is one.
    penalty: Option<Tensor<1>>,
    /// The discriminator step's index over the run.
    step: u64,
}

impl<'a> Steps<'a> {
    fn new(
        loss: &'a dyn AdversarialLoss,
        class_weight: Option<f32>,
        regularisers: Regularisers,
    ) -> Self {
        Self {
            loss,
            class_weight,
            regularisers,
        }
    }

    fn iteration(
        &self,
        mut gan: Gan,
        critic: Vec<Batch>,
        batch: Batch,
        clock: &mut dyn PhaseClock,
    ) -> (Gan, StepStats) {
        for extra in critic {
            gan = self.discriminator_step(gan, extra, &mut NoClock).0;
        }
        let (gan, d) = self.discriminator_step(gan, batch, clock);
        let (gan, loss_g) = self.generator_step(gan, d.fake, d.fake_labels, d.step, clock);
        let device = loss_g.device();
        let mut parts = vec![d.loss, loss_g, d.d_real, d.d_fake];
        parts.extend(d.class_losses);
        parts.extend(d.penalty);
        if self.regularisers.augment.is_some_and(|a| a.adaptive) {
            parts.push(Tensor::from_floats([gan.augment_probability()], &device));
        }
        let values = Tensor::cat(parts, 0);
        (gan, StepStats { values })
    }

    /// The weighted class term of `scores` (AC-GAN), where there is one.
    fn class_term(&self, scores: &Scores, labels: Option<&Tensor<1, Int>>) -> Option<Tensor<1>> {
        let weight = self.class_weight?;
        let logits = scores.class_logits.clone()?;
        Some(class_cross_entropy(logits, labels?).mul_scalar(weight))
    }

    /// Updates the discriminator on `batch.real` and `G(batch.noise)`.
    fn discriminator_step(
        &self,
        mut gan: Gan,
        batch: Batch,
        clock: &mut dyn PhaseClock,
    ) -> (Gan, DiscriminatorOutcome) {
        let fake_labels = batch.fake_labels;
        let fake = gan.generator.forward(batch.noise, fake_labels.as_ref()); // [B, C, H, W]
        clock.lap("G forward");
        let augment = self.regularisers.augment;
        let real = augmented(augment, &gan, batch.real, batch.step, Scored::Real);
        let detached = augmented(
            augment,
            &gan,
            fake.clone().detach(),
            batch.step,
            Scored::Generated,
        );
        let (real, penalty) = self.real_scores_and_penalty(
            &gan,
            real,
            &detached,
            batch.penalty_mix,
            batch.labels.as_ref(),
            batch.step,
        );
        if let Some(ada) = gan.ada.as_mut() {
            ada.observe(real.logits.clone(), batch.step);
        }
        let generated = gan.discriminator.forward(detached, fake_labels.as_ref());
        let d_real = sigmoid(real.logits.clone().detach()).mean();
        let d_fake = sigmoid(generated.logits.clone().detach()).mean();
        let mut loss = self
            .loss
            .discriminator(real.logits.clone(), generated.logits.clone());
        let mut class_losses = Vec::new();
        let class_real = self.class_term(&real, batch.labels.as_ref());
        let class_fake = self.class_term(&generated, fake_labels.as_ref());
        if let (Some(class_real), Some(class_fake)) = (class_real, class_fake) {
            class_losses = vec![class_real.clone().detach(), class_fake.clone().detach()];
            loss = loss + class_real + class_fake;
        }
        let loss_d = loss.clone().detach();
        if let Some(penalty) = &penalty {
            loss = loss + penalty.clone();
        }
        if let (Some(lecam), Some(anchors)) = (self.regularisers.lecam, gan.lecam_anchors.take()) {
            loss = loss
                + lecam.value(
                    real.logits.clone(),
                    generated.logits.clone(),
                    anchors.clone(),
                );
            gan.lecam_anchors =
                Some(lecam.advance(anchors, real.logits.clone(), generated.logits.clone()));
        }
        clock.lap("D forward (real + fake)");
        let grads = GradientsParams::from_grads(loss.backward(), &gan.discriminator);
        clock.lap("D backward");
        gan.discriminator =
            gan.discriminator_optimizer
                .step(gan.discriminator_lr, gan.discriminator, grads);
        if let Some(bound) = self.regularisers.weight_clip {
            let mut clip = Clip {
                bound,
                path: Vec::new(),
            };
            gan.discriminator = gan.discriminator.map(&mut clip);
        }
        clock.lap("D Adam step");
        let outcome = DiscriminatorOutcome {
            fake,
            fake_labels,
            loss: loss_d,
            d_real,
            d_fake,
            class_losses,
            penalty: penalty.map(Tensor::detach),
            step: batch.step,
        };
        (gan, outcome)
    }

    /// The discriminator's scores on the real items, with the labels, and the weighted
    /// penalty on its input gradient, taken at the real items (R1) or at the batch's mix of
    /// real and generated ones (WGAN-GP), on the discriminator steps its schedule names (0
    /// on the others). R1's gradient and the scores come from one forward pass.
    /// The penalty is `None` without one, or for a discriminator without an input gradient,
    /// which [`RunSpec::check`](crate::RunSpec::check) refuses.
    fn real_scores_and_penalty(
        &self,
        gan: &Gan,
        real: Tensor<4>,
        fake: &Tensor<4>,
        mix: Option<Tensor<4>>,
        labels: Option<&Tensor<1, Int>>,
        step: u64,
    ) -> (Scores, Option<Tensor<1>>) {
        let discriminator = &gan.discriminator;
        let Some(penalty) = self.regularisers.penalty else {
            return (discriminator.forward(real, labels), None);
        };
        if !penalty.applies_at(step) {
            // Reported as 0 between applications (lazy regularisation).
            let zero = Tensor::zeros([1], &real.device());
            return (discriminator.forward(real, labels), Some(zero));
        }
        let weighted = |grad: Tensor<4>| penalty.value(grad.flatten(1, 3));
        match (mix, penalty.on_interpolates()) {
            (Some(mix), true) => {
                let point =
                    real.clone() * mix.clone() + fake.clone().detach() * mix.neg().add_scalar(1.0);
                let grad = discriminator.input_gradient(point, labels);
                (discriminator.forward(real, labels), grad.map(weighted))
            }
            _ => match discriminator.scores_and_input_gradient(real.clone(), labels) {
                Some((scores, grad)) => (scores, Some(weighted(grad))),
                None => (discriminator.forward(real, labels), None),
            },
        }
    }

    /// Updates the generator so the discriminator scores `fake` as real (and, for AC-GAN, as
    /// its class). Returns `loss_g`.
    ///
    /// The discriminator runs as a frozen copy (its parameters do not require gradients), so
    /// the backward pass computes only the gradients flowing into `fake` and skips the
    /// discriminator's weight gradients, which this step would throw away.
    fn generator_step(
        &self,
        mut gan: Gan,
        fake: Tensor<4>,
        fake_labels: Option<Tensor<1, Int>>,
        step: u64,
        clock: &mut dyn PhaseClock,
    ) -> (Gan, Tensor<1>) {
        let fake = augmented(
            self.regularisers.augment,
            &gan,
            fake,
            step,
            Scored::GeneratorStep,
        );
        let frozen = gan.discriminator.clone().no_grad();
        let scores = frozen.forward(fake, fake_labels.as_ref());
        let mut loss = self.loss.generator(scores.logits.clone());
        if let Some(class) = self.class_term(&scores, fake_labels.as_ref()) {
            loss = loss + class;
        }
        clock.lap("D forward (G step)");
        let grads = GradientsParams::from_grads(loss.backward(), &gan.generator);
        clock.lap("G backward (through D)");
        gan.generator = gan
            .generator_optimizer
            .step(gan.generator_lr, gan.generator, grads);
        clock.lap("G Adam step");
        (gan, loss.detach())
    }
}
