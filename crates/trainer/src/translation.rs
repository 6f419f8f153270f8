//! Image-to-image translation (pix2pix, Isola et al. 2017) as an [`Objective`].
//!
//! A batch holds sources and their targets ([`Batch::condition`], [`Batch::target`]) and the
//! generator's dropout masks as its noise. The discriminator scores a source joined to its
//! target (real) or to the generator's translation of it (fake) along the channels, and its
//! loss is halved as in pix2pix, slowing it relative to the generator. The generator
//! minimises `adversarial_weight * adversarial + l1_weight * |translation - target|`.
//!
//! Inpainting is the same game on masked pairs ([`PairShape::masked`]): the source is the
//! picture with a hole and the mask, the translation keeps the known pixels ([`keep_known`])
//! so that only the hole is generated, and the L1 term is the mean over the hole alone.

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

/// The source's known pixels where its mask says so, `generated` in the hole: `source` is
/// `[B, C + 1, H, W]` (a masked picture and its mask, 1 known), `generated` `[B, C, H, W]`.
pub fn keep_known(source: Tensor<4>, generated: Tensor<4>) -> Tensor<4> {
    let channels = generated.dims()[1];
    let known = source
        .clone()
        .narrow(1, channels, 1)
        .repeat_dim(1, channels);
    let picture = source.narrow(1, 0, channels);
    picture * known.clone() + generated * known.neg().add_scalar(1.0)
}

/// Mean absolute difference of `output` and `target` over the hole of `source`'s mask (its
/// last channel, 0 in the hole), `[1]`.
fn hole_l1(output: Tensor<4>, target: Tensor<4>, source: &Tensor<4>) -> Tensor<1> {
    let channels = output.dims()[1];
    let hole = source
        .clone()
        .narrow(1, channels, 1)
        .neg()
        .add_scalar(1.0)
        .repeat_dim(1, channels);
    let area = hole.clone().sum().clamp_min(1.0);
    (output - target).abs().mul(hole).sum().div(area)
}

impl Translation {
    /// The objective with `loss` and the generator's loss weights `weights`, for a generator
    /// taking `latent_dim` noise values on `pairs`.
    pub fn new(
        loss: Box<dyn AdversarialLoss>,
        weights: TranslationSpec,
        latent_dim: usize,
        pairs: PairShape,
    ) -> Self {
        Self {
            loss,
            adversarial_weight: weights.adversarial_weight,
            l1_weight: weights.l1_weight,
            latent_dim,
            pairs,
        }
    }

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
        let mut fake = gan.generator.translate(source.clone(), batch.noise); // [B, C, H, W]
        if self.pairs.masked {
            fake = keep_known(source.clone(), fake);
        }
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
        let l1 = match self.pairs.masked {
            true => hole_l1(step.fake.clone(), step.target.clone(), &step.source),
            false => l1_distance(step.fake.clone(), step.target.clone()),
        };
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
    fn stat_names(&self) -> Vec<&'static str> {
        TRANSLATION_STATS.to_vec()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One 1-channel 2x2 picture with its mask: known at (0, 0) and (1, 1).
    fn source(device: &Device) -> Tensor<4> {
        let values = vec![0.5, 0.0, 0.0, -0.25, 1.0, 0.0, 0.0, 1.0];
        Tensor::from_data(TensorData::new(values, [1, 2, 2, 2]), device)
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn filled_pictures_keep_their_known_pixels() {
        let device = Device::flex();
        let generated = Tensor::from_data(
            TensorData::new(vec![9.0, 8.0, 7.0, 6.0], [1, 1, 2, 2]),
            &device,
        );
        let filled = keep_known(source(&device), generated);
        assert_eq!(values(filled), vec![0.5, 8.0, 7.0, -0.25]);
    }

    #[test]
    fn hole_l1_averages_over_the_hole_alone() {
        let device = Device::flex();
        let output = Tensor::from_data(
            TensorData::new(vec![3.0, 1.0, -1.0, 5.0], [1, 1, 2, 2]),
            &device,
        );
        let target = Tensor::from_data(
            TensorData::new(vec![0.0, 0.5, 0.0, 0.0], [1, 1, 2, 2]),
            &device,
        );
        let l1 = hole_l1(output, target, &source(&device));
        // The hole is pixels 1 and 2: (|1 - 0.5| + |-1 - 0|) / 2.
        let l1: Vec<f32> = l1.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        assert_eq!(l1, vec![0.75]);
    }
}
