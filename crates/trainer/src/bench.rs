//! The training iteration as a benchmark runs it: a reference model (conditioned or not) at one
//! batch size, built by [`Gan::new`] and stepped by its [`Objective`] on a fixed pool of real
//! batches, exactly as training would. `ganforge bench` and the criterion benches time it.

use burn::prelude::*;
use ganforge_backend::BackendKind;
use ganforge_losses::NonSaturating;
use ganforge_models::{Architecture, Conditioning, ConditioningMethod};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::objective::{
    AdamSpec, ClassConditional, Gan, GanSpec, InitSeeds, Objective, PairShape, PhaseClock,
    Regularisers, StepStats, Unconditional,
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
}

impl Workload {
    /// The networks and optimisers training would build for this workload.
    pub fn gan_spec(&self) -> GanSpec {
        let classes = match self.conditioning {
            ConditioningMethod::None => 0,
            _ => BENCH_CLASSES,
        };
        GanSpec {
            architecture: self.architecture.clone(),
            conditioning: Conditioning::new(self.conditioning, classes),
            generator_optimizer: AdamSpec::DCGAN.into(),
            discriminator_optimizer: AdamSpec::DCGAN.into(),
            ema: None,
            pack: 1,
            // As training builds them: SNGAN's discriminator is spectrally normalised.
            spectral_norm: matches!(self.architecture, Architecture::Resnet(..)),
            minibatch_std: 0,
            ada: None,
            lecam: None,
        }
    }

    /// The objective training would run: non-saturating, conditional when the workload is;
    /// pix2pix's (L1 x 100 + adversarial) for an image-to-image architecture.
    pub fn objective(&self) -> Box<dyn Objective> {
        let latent_dim = self.architecture.latent_dim();
        let loss = Box::new(NonSaturating);
        if let Some(pairs) = PairShape::of(&self.architecture, false) {
            let weights = TranslationSpec::default();
            return Box::new(Translation::new(loss, weights, latent_dim, pairs));
        }
        match self.conditioning {
            ConditioningMethod::None => Box::new(Unconditional {
                loss,
                regularisers: Regularisers::default(),
                latent_dim,
            }),
            method => Box::new(ClassConditional {
                loss,
                regularisers: Regularisers::default(),
                latent_dim,
                classes: BENCH_CLASSES,
                class_weight: (method == ConditioningMethod::Acgan).then_some(1.0),
            }),
        }
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
