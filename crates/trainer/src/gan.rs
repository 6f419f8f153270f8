//! One GAN training iteration: `n_critic` discriminator steps, then one generator step.

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use ganforge_losses::AdversarialLoss;
use ganforge_models::{Discriminator, Generator};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::adam::FusedAdam;
use crate::plan::AdamPlan;

/// Builds an Adam optimiser from a validated plan (fused on flex, burn's elsewhere).
pub fn adam(plan: &AdamPlan) -> ModuleOptimizer {
    ModuleOptimizer::from(FusedAdam::new(plan.beta1, plan.beta2, plan.epsilon))
}

/// The generator of training noise: small, fast, and serialisable into checkpoints.
pub type NoiseRng = rand_pcg::Pcg64Mcg;

/// A noise generator seeded with `seed`.
pub fn noise_rng(seed: u64) -> NoiseRng {
    <NoiseRng as rand::SeedableRng>::seed_from_u64(seed)
}

/// `n` draws of a standard normal, as `f32`.
pub fn normal_noise(rng: &mut impl Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// Statistics of one iteration, detached and still on the device (reading them forces a
/// sync, so the loop reads them only when it logs).
#[derive(Debug, Clone)]
pub struct StepStats {
    /// `[loss_d, loss_g, mean D(x), mean D(G(z))]`, shape `[4]`.
    pub values: Tensor<1>,
}

/// The two networks, their optimisers and the objective.
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
    /// The objective.
    pub loss: Box<dyn AdversarialLoss>,
}

impl Gan {
    /// One iteration: a discriminator step on each of `extra_critic` (empty when
    /// `n_critic = 1`), then one on `(real, z)`, then the generator step, which reuses the
    /// samples of that last discriminator step (as PyTorch's DCGAN example does) scored by
    /// the freshly updated discriminator.
    ///
    /// Inputs must be on the autodiff device the networks live on. The networks are taken
    /// and given back, as burn's optimisers do, so parameters can be updated in place.
    pub fn iteration(
        self,
        extra_critic: Vec<(Tensor<4>, Tensor<2>)>,
        real: Tensor<4>,
        z: Tensor<2>,
    ) -> (Self, StepStats) {
        let mut gan = self;
        for (real, z) in extra_critic {
            gan = gan.discriminator_step(real, z).0;
        }
        let (gan, fake, d_stats) = gan.discriminator_step(real, z);
        let (gan, loss_g) = gan.generator_step(fake);
        let values = Tensor::cat(
            vec![d_stats.clone().slice(0..1), loss_g, d_stats.slice(1..3)],
            0,
        );
        (gan, StepStats { values })
    }

    /// Updates the discriminator on `real` and `G(z)`. Returns the generated batch (with its
    /// graph, for the generator step) and `[loss_d, mean D(x), mean D(G(z))]`.
    pub fn discriminator_step(
        mut self,
        real: Tensor<4>,
        z: Tensor<2>,
    ) -> (Self, Tensor<4>, Tensor<1>) {
        let fake = self.generator.forward(z); // [B, C, H, W]
        let real_logits = self.discriminator.forward(real); // [B, 1]
        let fake_logits = self.discriminator.forward(fake.clone().detach()); // [B, 1]
        let d_real = sigmoid(real_logits.clone().detach()).mean();
        let d_fake = sigmoid(fake_logits.clone().detach()).mean();
        let loss = self.loss.discriminator(real_logits, fake_logits);
        let grads = GradientsParams::from_grads(loss.backward(), &self.discriminator);
        let stats = Tensor::cat(vec![loss.detach(), d_real, d_fake], 0);
        // `self` is owned, so the network can move into the optimiser and back.
        self.discriminator =
            self.discriminator_optimizer
                .step(self.discriminator_lr, self.discriminator, grads);
        (self, fake, stats)
    }

    /// Updates the generator so the discriminator scores `fake` as real. Returns `loss_g`.
    ///
    /// The discriminator runs as a frozen copy (its parameters do not require gradients), so
    /// the backward pass computes only the gradients flowing into `fake` and skips the
    /// discriminator's weight gradients, which this step would throw away.
    pub fn generator_step(mut self, fake: Tensor<4>) -> (Self, Tensor<1>) {
        let frozen = self.discriminator.clone().no_grad();
        let loss = self.loss.generator(frozen.forward(fake));
        let grads = GradientsParams::from_grads(loss.backward(), &self.generator);
        self.generator = self
            .generator_optimizer
            .step(self.generator_lr, self.generator, grads);
        (self, loss.detach())
    }
}
