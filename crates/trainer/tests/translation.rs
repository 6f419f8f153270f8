//! pix2pix's objective on its own: the generator learns a translation from pairs; trained on
//! L1 alone its updates do not depend on the discriminator; as an inpainter its pictures are
//! filled before the discriminator sees them and its L1 is taken in the hole.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use burn::module::Module;
use burn::prelude::*;
use ganforge_losses::LossKind;
use ganforge_models::{
    Architecture, Conditioning, PatchGanDiscriminatorConfig, UnetGeneratorConfig,
};
use ganforge_trainer::objective::{
    AdamSpec, Gan, GanSpec, InitSeeds, NoClock, Objective, PairShape,
};
use ganforge_trainer::translation::Translation;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

const SIZE: usize = 8;

fn gan_spec() -> GanSpec {
    let generator = UnetGeneratorConfig {
        width: 4,
        ..UnetGeneratorConfig::new(1, 1, SIZE)
    };
    let discriminator = PatchGanDiscriminatorConfig {
        width: 4,
        ..PatchGanDiscriminatorConfig::new(2, SIZE)
    };
    GanSpec {
        architecture: Architecture::Pix2Pix(generator, discriminator),
        conditioning: Conditioning::none(),
        // Faster than pix2pix's 2e-4, so a few iterations show the learning.
        generator_optimizer: AdamSpec {
            lr: 2e-3,
            ..AdamSpec::DCGAN
        }
        .into(),
        discriminator_optimizer: AdamSpec::DCGAN.into(),
        ema: None,
        pack: 1,
        spectral_norm: false,
        generator_options: Default::default(),
        minibatch_std: 0,
        lecam: None,
        ada: None,
    }
}

fn objective(adversarial_weight: f32) -> Translation {
    let spec = gan_spec();
    Translation {
        loss: LossKind::NonSaturating.build(),
        adversarial_weight,
        l1_weight: 100.0,
        latent_dim: spec.architecture.latent_dim(),
        pairs: PairShape {
            source_channels: 1,
            dropout: 0.5,
            masked: false,
        },
    }
}

/// `n` pairs `[n, 2, 8, 8]`: a stripe pattern and its negative.
fn pairs(n: usize, device: &Device) -> Tensor<4> {
    let mut values = Vec::with_capacity(n * 2 * SIZE * SIZE);
    for i in 0..n {
        let source: Vec<f32> = (0..SIZE * SIZE)
            .map(|p| {
                if (p % SIZE + p / SIZE + i).is_multiple_of(3) {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        values.extend(&source);
        values.extend(source.iter().map(|v| -v));
    }
    Tensor::from_data(TensorData::new(values, [n, 2, SIZE, SIZE]), device)
}

struct Collect(Vec<f32>);

impl burn::module::ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        self.0.extend(
            param
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap(),
        );
    }
}

fn generator_weights(gan: &Gan) -> Vec<f32> {
    let mut collect = Collect(Vec::new());
    gan.generator.visit(&mut collect);
    collect.0
}

/// One iteration from generator seed 1 and discriminator seed `d_seed` on the same batch.
fn one_iteration(objective: &Translation, d_seed: u64) -> Vec<f32> {
    let device = Device::flex().autodiff();
    let seeds = InitSeeds {
        generator: 1,
        discriminator: d_seed,
    };
    let gan = Gan::new(&gan_spec(), &device, seeds).unwrap();
    let mut rng = Pcg64Mcg::seed_from_u64(0);
    let batch = objective
        .batch_shape()
        .batch(pairs(4, &device), None, &mut rng, &device);
    let (gan, _) = objective.iteration(gan, Vec::new(), batch, &mut NoClock);
    generator_weights(&gan)
}

#[test]
fn trained_on_l1_alone_the_generator_ignores_the_discriminator() {
    let l1_only = objective(0.0);
    assert_eq!(one_iteration(&l1_only, 2), one_iteration(&l1_only, 3));
    let pix2pix = objective(1.0);
    assert_ne!(one_iteration(&pix2pix, 2), one_iteration(&pix2pix, 3));
}

/// L1 of the translations over `iterations` iterations of `objective`.
fn l1_curve(objective: &Translation, iterations: usize) -> Vec<f32> {
    let device = Device::flex().autodiff();
    let seeds = InitSeeds {
        generator: 1,
        discriminator: 2,
    };
    let mut gan = Gan::new(&gan_spec(), &device, seeds).unwrap();
    let mut rng = Pcg64Mcg::seed_from_u64(0);
    let mut l1 = Vec::new();
    for _ in 0..iterations {
        let batch = objective
            .batch_shape()
            .batch(pairs(6, &device), None, &mut rng, &device);
        let (next, stats) = objective.iteration(gan, Vec::new(), batch, &mut NoClock);
        gan = next;
        l1.push(stats.values.into_data().try_to_vec::<f32>().unwrap()[4]);
    }
    l1
}

#[test]
fn the_generator_learns_the_pairs_with_and_without_the_adversarial_term() {
    for adversarial_weight in [1.0, 0.0] {
        let objective = objective(adversarial_weight);
        assert_eq!(
            objective.stat_names(),
            ["loss_d", "loss_g", "d_real", "d_fake", "l1"]
        );
        let l1 = l1_curve(&objective, 100);
        let (first, last) = (l1[0], l1[l1.len() - 1]);
        assert!(
            last < 0.5 * first,
            "adversarial weight {adversarial_weight}: L1 went from {first} to {last}"
        );
    }
}

/// Items `[n, 3, 8, 8]` for inpainting: the stripes with a centred 4x4 hole blanked, the
/// mask (0 in the hole), and the stripes whole.
fn masked_items(n: usize, device: &Device) -> Tensor<4> {
    let plane = SIZE * SIZE;
    let whole = pairs(n, device).narrow(1, 0, 1); // [n, 1, 8, 8]
    let whole: Vec<f32> = whole.into_data().try_to_vec::<f32>().unwrap();
    let known = |p: usize| !((2..6).contains(&(p / SIZE)) && (2..6).contains(&(p % SIZE)));
    let mut values = Vec::with_capacity(n * 3 * plane);
    for image in whole.chunks_exact(plane) {
        values.extend((0..plane).map(|p| if known(p) { image[p] } else { 0.0 }));
        values.extend((0..plane).map(|p| if known(p) { 1.0 } else { 0.0 }));
        values.extend_from_slice(image);
    }
    Tensor::from_data(TensorData::new(values, [n, 3, SIZE, SIZE]), device)
}

#[test]
fn an_inpainter_is_judged_on_filled_pictures_and_scored_in_the_hole() {
    let device = Device::flex().autodiff();
    let mut spec = gan_spec();
    spec.architecture = Architecture::Pix2Pix(
        UnetGeneratorConfig {
            width: 4,
            ..UnetGeneratorConfig::new(2, 1, SIZE)
        },
        PatchGanDiscriminatorConfig {
            width: 4,
            ..PatchGanDiscriminatorConfig::new(3, SIZE)
        },
    );
    let objective = Translation {
        latent_dim: spec.architecture.latent_dim(),
        pairs: PairShape {
            source_channels: 2,
            dropout: 0.5,
            masked: true,
        },
        ..objective(1.0)
    };
    let seeds = InitSeeds {
        generator: 1,
        discriminator: 2,
    };
    let gan = Gan::new(&spec, &device, seeds).unwrap();
    let mut rng = Pcg64Mcg::seed_from_u64(0);
    let batch = objective
        .batch_shape()
        .batch(masked_items(4, &device), None, &mut rng, &device);
    // What the iteration should see, from copies of the networks before it.
    let source = batch.condition.clone().unwrap();
    let target = batch.target.clone().unwrap();
    let generated = gan
        .generator
        .translate(source.clone(), batch.noise.clone())
        .detach();
    let mask = source.clone().narrow(1, 1, 1);
    let filled = source.clone().narrow(1, 0, 1) * mask.clone()
        + generated.clone() * mask.clone().neg().add_scalar(1.0);
    let hole = mask.neg().add_scalar(1.0);
    let expected_l1 = ((generated - target).abs() * hole.clone()).sum() / hole.sum();
    let scores = gan
        .discriminator
        .forward(Tensor::cat(vec![source, filled], 1), None);
    let expected_d_fake = burn::tensor::activation::sigmoid(scores.logits).mean();
    let host = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap()[0];
    let (expected_l1, expected_d_fake) = (host(expected_l1), host(expected_d_fake));

    let (_, stats) = objective.iteration(gan, Vec::new(), batch, &mut NoClock);
    let stats = stats.values.into_data().try_to_vec::<f32>().unwrap();
    assert!(
        (stats[4] - expected_l1).abs() < 1e-5,
        "L1 {} is not the hole's {expected_l1}",
        stats[4]
    );
    assert!(
        (stats[3] - expected_d_fake).abs() < 1e-5,
        "D(G(z)) {} is not the filled pictures' {expected_d_fake}",
        stats[3]
    );
}
