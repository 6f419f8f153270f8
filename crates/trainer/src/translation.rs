//! Image-to-image translation (pix2pix, Isola et al. 2017) as an [`Objective`].
//!
//! A batch holds sources and their targets ([`Batch::condition`], [`Batch::target`]) and the
//! generator's dropout masks as its noise. The discriminator scores a source joined to its
//! target (real) or to the generator's translation of it (fake) along the channels, and its
//! loss is halved as in pix2pix, slowing it relative to the generator. The generator
//! minimises `adversarial_weight * adversarial + l1_weight * |translation - target|`.

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use ganforge_losses::{AdversarialLoss, l1_distance};

use crate::objective::{
    Batch, BatchShape, Gan, NoClock, Objective, PairShape, PhaseClock, StepStats,
};

/// [`crate::objective::CORE_STATS`] and the L1 distance of translations to their targets.
const TRANSLATION_STATS: [&str; 5] = ["loss_d", "loss_g", "d_real", "d_fake", "l1"];

/// The generator's loss terms of an image-to-image run.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TranslationSpec {
    /// Weight of the L1 distance to the target (pix2pix's lambda).
    pub l1_weight: f32,
    /// Weight of the adversarial term: 1, or 0 to train the generator on L1 alone.
    pub adversarial_weight: f32,
}

impl Default for TranslationSpec {
    /// pix2pix's: `lambda = 100`, adversarial weight 1.
    fn default() -> Self {
        Self {
            l1_weight: 100.0,
            adversarial_weight: 1.0,
        }
    }
}

/// pix2pix's objective.
pub struct Translation {
    /// The adversarial loss.
    pub loss: Box<dyn AdversarialLoss>,
    /// Weight of the adversarial term in the generator's loss: 1, or 0 for the same network
    /// trained on L1 alone (the discriminator still trains and reports, so both log alike).
    pub adversarial_weight: f32,
    /// Weight of the L1 term (pix2pix's lambda, 100).
    pub l1_weight: f32,
    /// Size of the generator's noise (its dropout masks).
    pub latent_dim: usize,
    /// How items split into source and target, and the dropout rate.
    pub pairs: PairShape,
}

/// A discriminator step's sources, targets and translations (with their graph), and its
/// statistics, each detached `[1]`.
struct Translated {
    source: Tensor<4>,
    target: Tensor<4>,
    fake: Tensor<4>,
    loss: Tensor<1>,
    d_real: Tensor<1>,
    d_fake: Tensor<1>,
}

/// A source and the image beside it, as the discriminator sees them.
fn joined(source: &Tensor<4>, image: Tensor<4>) -> Tensor<4> {
    Tensor::cat(vec![source.clone(), image], 1)
}

impl Translation {
    /// The batch's sources and targets (a batch built without pairs has blank sources).
    fn pair(&self, batch: &mut Batch) -> (Tensor<4>, Tensor<4>) {
        let target = batch.target.take().unwrap_or_else(|| batch.real.clone());
        let source = batch.condition.take().unwrap_or_else(|| {
            let [b, _, h, w] = target.dims();
            Tensor::zeros([b, self.pairs.source_channels, h, w], &target.device())
        });
        (source, target)
    }

    fn discriminator_step(
        &self,
        mut gan: Gan,
        mut batch: Batch,
        clock: &mut dyn PhaseClock,
    ) -> (Gan, Translated) {
        let (source, target) = self.pair(&mut batch);
        let fake = gan.generator.translate(source.clone(), batch.noise); // [B, C, H, W]
        clock.lap("G forward");
        let real = gan
            .discriminator
            .forward(joined(&source, target.clone()), None);
        let generated = gan
            .discriminator
            .forward(joined(&source, fake.clone().detach()), None);
        let d_real = sigmoid(real.logits.clone().detach()).mean();
        let d_fake = sigmoid(generated.logits.clone().detach()).mean();
        let loss = self
            .loss
            .discriminator(real.logits, generated.logits)
            .mul_scalar(0.5);
        clock.lap("D forward (real + fake)");
        let grads = GradientsParams::from_grads(loss.backward(), &gan.discriminator);
        clock.lap("D backward");
        gan.discriminator =
            gan.discriminator_optimizer
                .step(gan.discriminator_lr, gan.discriminator, grads);
        clock.lap("D Adam step");
        let outcome = Translated {
            source,
            target,
            fake,
            loss: loss.detach(),
            d_real,
            d_fake,
        };
        (gan, outcome)
    }

    /// Updates the generator; returns its adversarial term and the L1 distance, detached.
    fn generator_step(
        &self,
        mut gan: Gan,
        step: &Translated,
        clock: &mut dyn PhaseClock,
    ) -> (Gan, Tensor<1>, Tensor<1>) {
        let frozen = gan.discriminator.clone().no_grad();
        let scores = frozen.forward(joined(&step.source, step.fake.clone()), None);
        let adversarial = self.loss.generator(scores.logits);
        let l1 = l1_distance(step.fake.clone(), step.target.clone());
        let mut loss = l1.clone().mul_scalar(self.l1_weight);
        if self.adversarial_weight != 0.0 {
            loss = loss + adversarial.clone().mul_scalar(self.adversarial_weight);
        }
        clock.lap("D forward (G step)");
        let grads = GradientsParams::from_grads(loss.backward(), &gan.generator);
        clock.lap("G backward (through D)");
        gan.generator = gan
            .generator_optimizer
            .step(gan.generator_lr, gan.generator, grads);
        clock.lap("G Adam step");
        (gan, adversarial.detach(), l1.detach())
    }
}

impl Objective for Translation {
    fn stat_names(&self) -> &'static [&'static str] {
        &TRANSLATION_STATS
    }

    fn batch_shape(&self) -> BatchShape {
        BatchShape {
            latent_dim: self.latent_dim,
            classes: None,
            penalty_mix: false,
            pairs: Some(self.pairs),
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
        let (gan, loss_g, l1) = self.generator_step(gan, &d, clock);
        let values = Tensor::cat(vec![d.loss, loss_g, d.d_real, d.d_fake, l1], 0);
        (gan, StepStats { values })
    }
}
