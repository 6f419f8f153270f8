//! The training iteration as a benchmark runs it: a reference model (conditioned or not) at one
//! batch size, built by [`Gan::new`] and stepped by its [`Objective`] on a fixed pool of real
//! batches, exactly as training would. `ganforge bench` and the criterion benches time it.

use burn::prelude::*;
use ganforge_backend::BackendKind;
use ganforge_losses::{AdversarialLoss, LeCam, NonSaturating, Penalty, Wasserstein};
use ganforge_models::{
    Architecture, AugmentPolicy, Conditioning, ConditioningMethod, GeneratorOptions,
};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::ema::EmaSpec;
use crate::objective::{
    AdamSpec, Augmentation, ClassConditional, Gan, GanSpec, InitSeeds, Objective, OptimizerSpec,
    PairShape, PhaseClock, Regularisers, RmsPropSpec, StepStats, Unconditional,
};
use crate::translation::{Translation, TranslationSpec};

/// Real batches cycled through, so a step does not reuse one cached tensor (as the peer).
const REAL_POOL: usize = 8;

fn uniform_batch(rng: &mut Pcg64Mcg, shape: [usize; 4], device: &Device) -> Tensor<4> {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Classes of a conditioned benchmark (MNIST's and CIFAR-10's ten).
pub const BENCH_CLASSES: usize = 10;

/// What a benchmark times: a reference model, conditioned or not, at one batch size.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Reference model name.
    pub model: String,
    /// Its architecture.
    pub architecture: Architecture,
    /// Class conditioning ([`BENCH_CLASSES`] classes when conditional).
    pub conditioning: ConditioningMethod,
    /// Backend timed.
    pub backend: BackendKind,
    /// Batch size.
    pub batch: usize,
    /// Untimed iterations first.
    pub warmup: usize,
    /// Timed iterations.
    pub iters: usize,
    /// A regulariser added to the plain recipe, if any.
    pub regulariser: Option<BenchRegulariser>,
}

/// A regulariser a benchmark adds to the plain recipe (non-saturating loss, Adam), each at its
/// paper's setting, so its cost per iteration can be timed against the same recipe elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchRegulariser {
    /// The original WGAN: the Wasserstein loss, weights clipped to `[-0.01, 0.01]` after each
    /// discriminator step, RMSProp (5e-5) for both networks.
    WeightClip,
    /// WGAN-GP: the Wasserstein loss and the gradient penalty (lambda 10) on interpolates.
    GradientPenalty,
    /// R1 on real items (gamma 10) at every discriminator step.
    R1,
    /// LeCam (weight 0.3, decay 0.99).
    LeCam,
    /// Spectral normalisation of every discriminator weight.
    SpectralNorm,
    /// A moving average of the generator (beta 0.999).
    Ema,
    /// DiffAugment (colour, translation, cutout) of everything the discriminator scores.
    DiffAugment,
}

impl BenchRegulariser {
    /// Every regulariser, in report order.
    pub const ALL: [Self; 7] = [
        Self::WeightClip,
        Self::GradientPenalty,
        Self::R1,
        Self::LeCam,
        Self::SpectralNorm,
        Self::Ema,
        Self::DiffAugment,
    ];

    /// The name `ganforge bench --regulariser` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::WeightClip => "wgan-clip",
            Self::GradientPenalty => "wgan-gp",
            Self::R1 => "r1",
            Self::LeCam => "lecam",
            Self::SpectralNorm => "spectral-norm",
            Self::Ema => "ema",
            Self::DiffAugment => "diffaugment",
        }
    }

    /// The regulariser called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether it takes the discriminator's input gradient.
    pub fn needs_input_gradient(self) -> bool {
        matches!(self, Self::GradientPenalty | Self::R1)
    }
}

impl Workload {
    /// The networks and optimisers training would build for this workload.
    pub fn gan_spec(&self) -> GanSpec {
        let classes = match self.conditioning {
            ConditioningMethod::None => 0,
            _ => BENCH_CLASSES,
        };
        let optimizer: OptimizerSpec = match self.regulariser {
            Some(BenchRegulariser::WeightClip) => OptimizerSpec::RmsProp(RmsPropSpec::WGAN),
            _ => AdamSpec::DCGAN.into(),
        };
        let regulariser = |r| self.regulariser == Some(r);
        GanSpec {
            architecture: self.architecture.clone(),
            conditioning: Conditioning::new(self.conditioning, classes),
            generator_optimizer: optimizer,
            discriminator_optimizer: optimizer,
            ema: regulariser(BenchRegulariser::Ema).then_some(EmaSpec::DEFAULT),
            pack: 1,
            // As training builds them: SNGAN's discriminator is spectrally normalised.
            spectral_norm: matches!(self.architecture, Architecture::Resnet(..))
                || regulariser(BenchRegulariser::SpectralNorm),
            generator_options: GeneratorOptions::default(),
            minibatch_std: 0,
            ada: None,
            lecam: regulariser(BenchRegulariser::LeCam).then_some(LeCam::DEFAULT),
        }
    }

    /// The objective training would run: non-saturating, conditional when the workload is;
    /// pix2pix's (L1 x 100 + adversarial) for an image-to-image architecture.
    pub fn objective(&self) -> Box<dyn Objective> {
        let latent_dim = self.architecture.latent_dim();
        if let Some(pairs) = PairShape::of(&self.architecture, false) {
            let weights = TranslationSpec::default();
            return Box::new(Translation::new(
                Box::new(NonSaturating),
                weights,
                latent_dim,
                pairs,
            ));
        }
        let loss: Box<dyn AdversarialLoss> = match self.regulariser {
            Some(BenchRegulariser::WeightClip | BenchRegulariser::GradientPenalty) => {
                Box::new(Wasserstein)
            }
            _ => Box::new(NonSaturating),
        };
        let regularisers = self.regularisers();
        match self.conditioning {
            ConditioningMethod::None => Box::new(Unconditional {
                loss,
                regularisers,
                latent_dim,
            }),
            method => Box::new(ClassConditional {
                loss,
                regularisers,
                latent_dim,
                classes: BENCH_CLASSES,
                class_weight: (method == ConditioningMethod::Acgan).then_some(1.0),
            }),
        }
    }

    /// The objective's part of [`Self::regulariser`].
    fn regularisers(&self) -> Regularisers {
        let mut regularisers = Regularisers::default();
        match self.regulariser {
            Some(BenchRegulariser::WeightClip) => regularisers.weight_clip = Some(0.01),
            Some(BenchRegulariser::GradientPenalty) => {
                regularisers.penalty = Some(Penalty::Gradient { weight: 10.0 });
            }
            Some(BenchRegulariser::R1) => {
                regularisers.penalty = Some(Penalty::R1 {
                    weight: 10.0,
                    every: 1,
                });
            }
            Some(BenchRegulariser::LeCam) => regularisers.lecam = Some(LeCam::DEFAULT),
            Some(BenchRegulariser::DiffAugment) => {
                regularisers.augment = Some(Augmentation {
                    policy: AugmentPolicy {
                        color: true,
                        translation: true,
                        cutout: true,
                        ..AugmentPolicy::default()
                    },
                    seed: 0,
                    adaptive: false,
                    probability: 1.0,
                });
            }
            Some(BenchRegulariser::SpectralNorm | BenchRegulariser::Ema) | None => {}
        }
        regularisers
    }
}

/// Fixed seeds of a benchmark's networks.
pub const BENCH_SEEDS: InitSeeds = InitSeeds {
    generator: 1,
    discriminator: 2,
};

/// A workload ready to run: the networks, the objective, a pool of real batches (with labels)
/// and the noise generator, on the autodiff device, seeded identically for every benchmark.
pub struct TrainingBench {
    ad: Device,
    rng: Pcg64Mcg,
    reals: Vec<(Tensor<4>, Vec<u32>)>,
    objective: Box<dyn Objective>,
    gan: Option<Gan>,
}

impl TrainingBench {
    /// Builds `workload` on `device` (autodiff is added here).
    pub fn new(workload: &Workload, device: &Device) -> Result<Self, crate::TrainError> {
        let ad = device.clone().autodiff();
        let gan = Gan::new(&workload.gan_spec(), &ad, BENCH_SEEDS)?;
        let mut rng = Pcg64Mcg::seed_from_u64(0);
        let [c, h, w] = workload.architecture.item_shape();
        let batch = workload.batch;
        let reals = (0..REAL_POOL)
            .map(|_| {
                let labels = (0..batch)
                    .map(|_| rng.random_range(0..BENCH_CLASSES as u32))
                    .collect();
                (uniform_batch(&mut rng, [batch, c, h, w], &ad), labels)
            })
            .collect();
        Ok(Self {
            ad,
            rng,
            reals,
            objective: workload.objective(),
            gan: Some(gan),
        })
    }

    /// Training iteration `i`, as the training loop runs it, timed phase by phase by `clock`.
    pub fn iteration(&mut self, i: usize, clock: &mut dyn PhaseClock) -> Option<StepStats> {
        let (real, labels) = self.reals[i % REAL_POOL].clone();
        let mut batch =
            self.objective
                .batch_shape()
                .batch(real, Some(labels), &mut self.rng, &self.ad);
        batch.step = i as u64;
        let gan = self.gan.take()?;
        let (mut gan, stats) = self.objective.iteration(gan, Vec::new(), batch, clock);
        gan.update_average(i as u64 + 1);
        self.gan = Some(gan);
        Some(stats)
    }
}
