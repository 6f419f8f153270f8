//! The trainer as a library: a run specified in Rust, without TOML or a command line, trains,
//! resumes exactly, refuses a checkpoint of other networks, and its checkpoint alone is enough
//! to sample from.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::num::{NonZeroU64, NonZeroUsize};
use std::path::Path;

use burn::prelude::Device;
use ganforge_backend::BackendKind;
use ganforge_data::ToyDistribution;
use ganforge_losses::{LeCam, LossKind, Penalty};
use ganforge_models::{
    Architecture, Conditioning, ConditioningMethod, DcganDiscriminatorConfig, DcganGeneratorConfig,
    ToyDiscriminatorConfig, ToyGeneratorConfig,
};
use ganforge_trainer::generate::{GenerateOptions, Weights, generate};
use ganforge_trainer::objective::{AdamSpec, Gan, OptimizerSpec, RmsPropSpec};
use ganforge_trainer::progress::ProgressMode;
use ganforge_trainer::{
    DataSpec, EmaSpec, OnDivergence, RunLength, RunOptions, RunSpec, RunSummary, TrainError,
};

fn nz(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).unwrap()
}

fn nzu(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

/// A small conditional ring-8 run of `steps` iterations.
fn ring_spec(steps: u64) -> RunSpec {
    RunSpec {
        name: "ring".into(),
        architecture: Architecture::Toy(
            ToyGeneratorConfig {
                latent_dim: 2,
                width: 16,
                depth: 2,
            },
            ToyDiscriminatorConfig {
                width: 16,
                depth: 2,
                ..ToyDiscriminatorConfig::default()
            },
        ),
        conditioning: Conditioning::new(ConditioningMethod::Concat, 8).with_embed_dim(4),
        class_names: (0..8).map(|m| m.to_string()).collect(),
        data: DataSpec::Toy {
            distribution: ToyDistribution::Ring8,
            samples: 256,
        },
        loss: LossKind::NonSaturating,
        penalty: None,
        lecam: None,
        weight_clip: None,
        generator_optimizer: AdamSpec::DCGAN.into(),
        discriminator_optimizer: AdamSpec::DCGAN.into(),
        length: RunLength::Steps(nz(steps)),
        batch_size: nzu(32),
        n_critic: nzu(1),
        seed: 7,
        log_every: nz(2),
        sample_every: nz(100),
        checkpoint_every: nz(3),
        keep_checkpoints: nzu(2),
        sample_count: nzu(16),
        on_divergence: ganforge_trainer::OnDivergence::Stop,
        ema: None,
        pack: 1,
        spectral_norm: false,
        spectral_norm_g: false,
        minibatch_std: 0,
        translation: None,
        augment: None,
        adaptive_augment: None,
        augment_probability: None,
        eval: None,
        backend: BackendKind::Flex,
    }
}

fn train(spec: &RunSpec, runs: &Path, resume: Option<&Path>) -> Result<RunSummary, TrainError> {
    let options = RunOptions {
        runs_root: runs.to_path_buf(),
        resume: resume.map(Path::to_path_buf),
        progress: ProgressMode::Quiet,
        config_text: None,
        stop: None,
    };
    ganforge_trainer::run(spec, &Device::flex(), &options)
}

struct Collect(Vec<f32>);

impl burn::module::ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<burn::Tensor<D>>) {
        let values = param.val().into_data().convert::<f32>();
        self.0.extend(values.try_to_vec::<f32>().unwrap());
    }
}

/// The generator weights saved in `checkpoint` (the moving average where there is one).
fn generator_weights(checkpoint: &Path) -> Vec<f32> {
    weights_of(checkpoint, Weights::Averaged)
}

/// The generator weights of `checkpoint` chosen by `weights`.
fn weights_of(checkpoint: &Path, weights: Weights) -> Vec<f32> {
    use burn::module::Module;
    let loaded =
        ganforge_trainer::generate::load_generator(checkpoint, &Device::flex(), weights).unwrap();
    let mut collect = Collect(Vec::new());
    loaded.generator.visit(&mut collect);
    collect.0
}

#[test]
fn a_spec_built_in_rust_trains_resumes_and_samples() {
    let runs = tempfile::tempdir().unwrap();
    let straight = train(&ring_spec(10), runs.path(), None).unwrap();
    let first = train(&ring_spec(5), runs.path(), None).unwrap();
    assert!(!first.run_dir.join("resolved.toml").exists());
    let resumed = train(&ring_spec(10), runs.path(), Some(&first.run_dir)).unwrap();
    assert_eq!(resumed.iterations, 10);
    let (a, b) = (
        generator_weights(&straight.checkpoint),
        generator_weights(&resumed.checkpoint),
    );
    assert!(!a.is_empty());
    assert!(a == b, "a resumed run differs from an uninterrupted one");

    let saved = ganforge_trainer::checkpoint::spec(&resumed.checkpoint).unwrap();
    assert_eq!(saved, ring_spec(10));

    let out = tempfile::tempdir().unwrap();
    let options = GenerateOptions {
        count: 8,
        out: out.path().to_path_buf(),
        seed: 0,
        class: Some("3".into()),
        scale: 1,
        weights: Default::default(),
    };
    let made = generate(&resumed.checkpoint, &options, &Device::flex()).unwrap();
    assert!(made.files.iter().any(|f| f.ends_with("points.csv")));
}

#[test]
fn the_moving_average_resumes_exactly_and_is_what_samples_use() {
    let with_ema = |steps| RunSpec {
        ema: Some(EmaSpec {
            beta: 0.9,
            start: 2,
        }),
        ..ring_spec(steps)
    };
    let runs = tempfile::tempdir().unwrap();
    let straight = train(&with_ema(10), runs.path(), None).unwrap();
    let first = train(&with_ema(5), runs.path(), None).unwrap();
    let resumed = train(&with_ema(10), runs.path(), Some(&first.run_dir)).unwrap();
    let average = weights_of(&straight.checkpoint, Weights::Averaged);
    let trained = weights_of(&straight.checkpoint, Weights::Trained);
    assert!(
        average == weights_of(&resumed.checkpoint, Weights::Averaged),
        "a resumed run's moving average differs from an uninterrupted one's"
    );
    assert!(trained == weights_of(&resumed.checkpoint, Weights::Trained));
    assert_ne!(average, trained, "the average is the generator itself");

    let err = train(&ring_spec(12), runs.path(), Some(&straight.run_dir)).unwrap_err();
    assert!(err.to_string().contains("moving average"), "{err}");
    let bad = RunSpec {
        ema: Some(EmaSpec {
            beta: 1.0,
            start: 0,
        }),
        ..ring_spec(2)
    };
    let err = train(&bad, runs.path(), None).unwrap_err();
    assert!(err.to_string().contains("ema.beta"), "{err}");
}

/// `spec` on `dcgan` (32x32, batch normalisation in D, transposed convolutions in G) and
/// unconditional CIFAR-10: for checks that refuse what those networks cannot take.
fn on_dcgan32_cifar10(spec: RunSpec) -> RunSpec {
    RunSpec {
        architecture: Architecture::Dcgan(
            DcganGeneratorConfig::new(32, 3),
            DcganDiscriminatorConfig::new(32, 3),
        ),
        data: DataSpec::Cifar10 {
            split: ganforge_data::Split::Train,
            dir: None,
        },
        conditioning: Conditioning::none(),
        class_names: Vec::new(),
        ..spec
    }
}

/// A run with a gradient penalty differs from the same run without it (the penalty reaches
/// the discriminator's weights), resumes exactly, and reports the penalty; a discriminator
/// with batch normalisation cannot take one.
#[test]
fn a_gradient_penalty_is_live_and_resumes_exactly() {
    let wgan = |steps, penalty| RunSpec {
        loss: LossKind::Wasserstein,
        penalty,
        n_critic: nzu(2),
        ..ring_spec(steps)
    };
    let gp = Some(Penalty::Gradient { weight: 10.0 });
    let runs = tempfile::tempdir().unwrap();
    let with = train(&wgan(6, gp), runs.path(), None).unwrap();
    // The same run with a negligible weight: the same random draws, no penalty to speak of
    // (it moves weights by rounding, far below the bound).
    let faint = Some(Penalty::Gradient { weight: 1e-9 });
    let without = train(&wgan(6, faint), runs.path(), None).unwrap();
    let moved = largest_generator_difference(&with.checkpoint, &without.checkpoint);
    eprintln!("largest generator weight difference made by the penalty: {moved}");
    assert!(moved > 1e-5, "the penalty changed nothing: {moved}");
    // R1, whose gradient comes from the forward pass that scores the real items, too; with
    // a strong weight, as R1 (unlike WGAN-GP's pull towards norm 1) is small while the
    // critic's input gradient is near its initial zero.
    let r1 = |weight| wgan(6, Some(Penalty::R1 { weight, every: 1 }));
    let with_r1 = train(&r1(1000.0), runs.path(), None).unwrap();
    let without_r1 = train(&r1(1e-9), runs.path(), None).unwrap();
    let moved = largest_generator_difference(&with_r1.checkpoint, &without_r1.checkpoint);
    eprintln!("largest generator weight difference made by R1: {moved}");
    assert!(moved > 1e-5, "R1 changed nothing: {moved}");
    let penalty = with.last.as_ref().unwrap().extra["penalty"];
    assert!(penalty.is_finite() && penalty > 0.0, "{penalty}");
    let first = train(&wgan(3, gp), runs.path(), None).unwrap();
    let resumed = train(&wgan(6, gp), runs.path(), Some(&first.run_dir)).unwrap();
    assert!(generator_weights(&with.checkpoint) == generator_weights(&resumed.checkpoint));

    let dcgan = on_dcgan32_cifar10(wgan(2, gp));
    let err = dcgan.check().unwrap_err().to_string();
    assert!(
        err.contains("loss.penalty") && err.contains("batch normalisation"),
        "{err}"
    );
}

/// The largest difference between two checkpoints' generator weights.
fn largest_generator_difference(a: &Path, b: &Path) -> f32 {
    generator_weights(a)
        .iter()
        .zip(&generator_weights(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

/// Lazy R1 is taken on every `every`-th discriminator step only (and reported as 0 between),
/// and resumes exactly on its schedule.
#[test]
fn lazy_r1_follows_its_schedule_and_resumes_exactly() {
    let lazy = |steps| RunSpec {
        penalty: Some(Penalty::R1 {
            weight: 1.0,
            every: 3,
        }),
        log_every: nz(1),
        ..ring_spec(steps)
    };
    let runs = tempfile::tempdir().unwrap();
    let straight = train(&lazy(7), runs.path(), None).unwrap();
    let lines =
        ganforge_trainer::metrics_log::read_lines(&straight.run_dir.join("metrics.jsonl")).unwrap();
    let applied: Vec<bool> = lines.iter().map(|l| l.extra["penalty"] > 0.0).collect();
    assert_eq!(applied, [true, false, false, true, false, false, true]);
    let first = train(&lazy(4), runs.path(), None).unwrap();
    let resumed = train(&lazy(7), runs.path(), Some(&first.run_dir)).unwrap();
    assert!(generator_weights(&straight.checkpoint) == generator_weights(&resumed.checkpoint));
}

/// With `weight_clip`, every discriminator weight stays within the bound after training (and
/// the clipping is what keeps it there: without it some leave).
#[test]
fn weight_clipping_bounds_every_discriminator_weight() {
    use burn::module::Module;
    let clipped = |clip| RunSpec {
        loss: LossKind::Wasserstein,
        weight_clip: clip,
        ..ring_spec(5)
    };
    let runs = tempfile::tempdir().unwrap();
    let largest = |clip| {
        let spec = clipped(clip);
        let summary = train(&spec, runs.path(), None).unwrap();
        let device = Device::flex();
        let gan = Gan::new(&spec.gan_spec(), &device, spec.init_seeds()).unwrap();
        let path = summary.checkpoint.join("discriminator.bpk");
        let d = ganforge_trainer::checkpoint::load_module(gan.discriminator, &path).unwrap();
        let mut c = Collect(Vec::new());
        d.visit(&mut c);
        c.0.iter().fold(0.0f32, |m, v| m.max(v.abs()))
    };
    assert!(largest(None) > 0.01);
    assert!(largest(Some(0.01)) <= 0.01);
}

/// Spectral normalisation changes training and resumes exactly: its power-iteration vectors
/// are in the checkpoint.
#[test]
fn spectral_normalisation_is_live_and_resumes_exactly() {
    let sn = |steps, spectral_norm| RunSpec {
        spectral_norm,
        ..ring_spec(steps)
    };
    let runs = tempfile::tempdir().unwrap();
    let straight = train(&sn(6, true), runs.path(), None).unwrap();
    let plain = train(&sn(6, false), runs.path(), None).unwrap();
    assert_ne!(
        generator_weights(&straight.checkpoint),
        generator_weights(&plain.checkpoint)
    );
    let first = train(&sn(3, true), runs.path(), None).unwrap();
    let resumed = train(&sn(6, true), runs.path(), Some(&first.run_dir)).unwrap();
    assert!(
        generator_weights(&straight.checkpoint) == generator_weights(&resumed.checkpoint),
        "a resumed spectrally normalised run differs from an uninterrupted one"
    );
    let err = train(&sn(8, false), runs.path(), Some(&straight.run_dir)).unwrap_err();
    assert!(err.to_string().contains("spectral norm"), "{err}");
}

/// Spectral normalisation of the generator: every weight of its network normalised (the
/// moving average's too), training changed, resume exact, and refused by key for a generator
/// with transposed convolutions.
#[test]
fn generator_spectral_normalisation_is_live_and_resumes_exactly() {
    let sn = |steps, spectral_norm_g| RunSpec {
        spectral_norm_g,
        ema: Some(EmaSpec::DEFAULT),
        conditioning: Conditioning::none(),
        class_names: Vec::new(),
        ..ring_spec(steps)
    };
    let spec = sn(6, true);
    let gan = Gan::new(
        &spec.gan_spec(),
        &Device::flex().autodiff(),
        spec.init_seeds(),
    )
    .unwrap();
    assert!(ganforge_models::is_spectrally_normalized(&gan.generator));
    let ema = gan.ema.as_ref().unwrap();
    assert!(ganforge_models::is_spectrally_normalized(&ema.generator));
    assert!(!ganforge_models::is_spectrally_normalized(
        &gan.discriminator
    ));
    let runs = tempfile::tempdir().unwrap();
    let straight = train(&sn(6, true), runs.path(), None).unwrap();
    let plain = train(&sn(6, false), runs.path(), None).unwrap();
    assert!(
        generator_weights(&straight.checkpoint) != generator_weights(&plain.checkpoint),
        "normalising the generator changed nothing"
    );
    let first = train(&sn(3, true), runs.path(), None).unwrap();
    let resumed = train(&sn(6, true), runs.path(), Some(&first.run_dir)).unwrap();
    assert!(
        generator_weights(&straight.checkpoint) == generator_weights(&resumed.checkpoint),
        "a resumed run with a normalised generator differs from an uninterrupted one"
    );
    let dcgan = on_dcgan32_cifar10(sn(2, true));
    let err = dcgan.check().unwrap_err().to_string();
    assert!(
        err.contains("model.spectral_norm_g") && err.contains("transposed"),
        "{err}"
    );
}

/// The minibatch standard deviation feature changes training (its weight starts at zero and
/// learns), resumes exactly, and rules out gradient penalties and batches of partial groups.
#[test]
fn minibatch_std_is_live_and_resumes_exactly() {
    let spread = |steps, minibatch_std| RunSpec {
        minibatch_std,
        ..ring_spec(steps)
    };
    let runs = tempfile::tempdir().unwrap();
    let straight = train(&spread(6, 4), runs.path(), None).unwrap();
    let plain = train(&spread(6, 0), runs.path(), None).unwrap();
    assert_ne!(
        generator_weights(&straight.checkpoint),
        generator_weights(&plain.checkpoint)
    );
    let first = train(&spread(3, 4), runs.path(), None).unwrap();
    let resumed = train(&spread(6, 4), runs.path(), Some(&first.run_dir)).unwrap();
    assert!(
        generator_weights(&straight.checkpoint) == generator_weights(&resumed.checkpoint),
        "a resumed run with the minibatch feature differs from an uninterrupted one"
    );
    let err = train(&spread(8, 0), runs.path(), Some(&straight.run_dir)).unwrap_err();
    assert!(err.to_string().contains("minibatch std"), "{err}");
    let err = spread(6, 5).check().unwrap_err();
    assert!(err.to_string().contains("model.minibatch_std"), "{err}");
    let penalised = RunSpec {
        penalty: Some(Penalty::Gradient { weight: 10.0 }),
        loss: LossKind::Wasserstein,
        ..spread(6, 4)
    };
    let err = penalised.check().unwrap_err();
    assert!(err.to_string().contains("minibatch_std"), "{err}");
}

/// LeCam regularisation changes training, and its moving averages are in the checkpoint, so
/// resume stays exact.
#[test]
fn lecam_is_live_and_resumes_exactly() {
    let lecam = |steps, weight: Option<f32>| RunSpec {
        lecam: weight.map(|weight| LeCam { weight, decay: 0.9 }),
        ..ring_spec(steps)
    };
    let runs = tempfile::tempdir().unwrap();
    let straight = train(&lecam(6, Some(1.0)), runs.path(), None).unwrap();
    let plain = train(&lecam(6, None), runs.path(), None).unwrap();
    assert_ne!(
        generator_weights(&straight.checkpoint),
        generator_weights(&plain.checkpoint)
    );
    let first = train(&lecam(3, Some(1.0)), runs.path(), None).unwrap();
    let resumed = train(&lecam(6, Some(1.0)), runs.path(), Some(&first.run_dir)).unwrap();
    assert!(
        generator_weights(&straight.checkpoint) == generator_weights(&resumed.checkpoint),
        "a resumed LeCam run differs from an uninterrupted one"
    );
}

/// RMSProp trains (its first step moves a weight by up to `lr / sqrt(1 - alpha)`, where
/// Adam's moves it by `lr` at most), resumes exactly (its squared-gradient averages are in the
/// checkpoint), and a run cannot resume with the other optimiser.
#[test]
fn rmsprop_steps_as_rmsprop_and_resumes_exactly() {
    let rmsprop = OptimizerSpec::RmsProp(RmsPropSpec {
        lr: 1e-4,
        ..RmsPropSpec::WGAN
    });
    let spec = |steps| RunSpec {
        generator_optimizer: rmsprop,
        discriminator_optimizer: rmsprop,
        ..ring_spec(steps)
    };
    let runs = tempfile::tempdir().unwrap();
    let initial = {
        let zero = RunSpec {
            length: RunLength::Steps(nz(1)),
            ..spec(1)
        };
        use burn::module::Module;
        let gan = Gan::new(&zero.gan_spec(), &Device::flex(), zero.init_seeds()).unwrap();
        let mut collect = Collect(Vec::new());
        gan.generator.visit(&mut collect);
        collect.0
    };
    let one = train(&spec(1), runs.path(), None).unwrap();
    let moved: Vec<f32> = generator_weights(&one.checkpoint)
        .iter()
        .zip(&initial)
        .map(|(a, b)| (a - b).abs() / 1e-4)
        .collect();
    // A weight moves by lr |g| / (sqrt(0.01) |g| + epsilon): 10 lr at most, nearly that where
    // the gradient is well above epsilon (Adam's first step is at most lr).
    let largest = moved.iter().copied().fold(0.0f32, f32::max);
    assert!(
        (9.5..=10.001).contains(&largest),
        "largest first step {largest} x lr"
    );
    let straight = train(&spec(6), runs.path(), None).unwrap();
    let first = train(&spec(3), runs.path(), None).unwrap();
    let resumed = train(&spec(6), runs.path(), Some(&first.run_dir)).unwrap();
    assert!(
        generator_weights(&straight.checkpoint) == generator_weights(&resumed.checkpoint),
        "a resumed RMSProp run differs from an uninterrupted one"
    );
    let err = train(&ring_spec(8), runs.path(), Some(&straight.run_dir)).unwrap_err();
    assert!(
        err.to_string().contains("optimisers rmsprop/rmsprop"),
        "{err}"
    );
}

#[test]
fn other_networks_cannot_resume_a_run() {
    let runs = tempfile::tempdir().unwrap();
    let first = train(&ring_spec(3), runs.path(), None).unwrap();
    let mut wider = ring_spec(6);
    if let Architecture::Toy(g, _) = &mut wider.architecture {
        g.width = 32;
    }
    let err = train(&wider, runs.path(), Some(&first.run_dir)).unwrap_err();
    assert!(err.to_string().contains("was trained with"), "{err}");
    assert!(err.is_bad_input());
}

#[test]
fn check_names_the_impossible_setting() {
    let mut spec = ring_spec(1);
    spec.class_names.pop();
    let err = spec.check().unwrap_err().to_string();
    assert!(err.contains("model.conditioning"), "{err}");
    let mut spec = ring_spec(1);
    spec.generator_optimizer = OptimizerSpec::Adam(AdamSpec {
        beta2: 1.0,
        ..AdamSpec::DCGAN
    });
    let err = spec.check().unwrap_err().to_string();
    assert!(err.contains("optimizer.generator.beta2"), "{err}");
}

/// A run that trained 4 good iterations (checkpoint at 4), resumed with learning rates so high
/// that the weights overflow.
fn diverging(
    runs: &Path,
    on_divergence: OnDivergence,
) -> (RunSummary, Result<RunSummary, TrainError>) {
    let mut good = ring_spec(4);
    good.checkpoint_every = nz(4);
    let first = train(&good, runs, None).unwrap();
    let mut wild = ring_spec(20);
    wild.checkpoint_every = nz(4);
    wild.generator_optimizer = wild.generator_optimizer.with_lr(1e30);
    wild.discriminator_optimizer = wild.discriminator_optimizer.with_lr(1e30);
    wild.on_divergence = on_divergence;
    // No log line in the window: the checkpoint's own check must catch it.
    wild.log_every = nz(1000);
    let resumed = train(&wild, runs, Some(&first.run_dir));
    (first, resumed)
}

#[test]
fn divergence_stops_and_names_the_last_good_checkpoint() {
    let runs = tempfile::tempdir().unwrap();
    let (first, resumed) = diverging(runs.path(), OnDivergence::Stop);
    let err = resumed.unwrap_err();
    let TrainError::Diverged { last_good, .. } = &err else {
        panic!("expected a divergence, got {err}");
    };
    assert_eq!(last_good.as_deref(), Some(first.checkpoint.as_path()));
    assert!(err.to_string().contains("step-00000004"), "{err}");
    assert!(!err.is_bad_input());
    // No checkpoint of the diverged weights was written over or beside the good one.
    let latest = ganforge_trainer::checkpoint::latest(&first.run_dir.join("checkpoints"));
    assert_eq!(latest.as_deref(), Some(first.checkpoint.as_path()));
    assert!(
        generator_weights(&first.checkpoint)
            .iter()
            .all(|w| w.is_finite())
    );
}

#[test]
fn divergence_rolls_back_with_lower_learning_rates() {
    let runs = tempfile::tempdir().unwrap();
    // 1e30 x 1e-33 = 1e-3: the first rollback cures it.
    let policy = OnDivergence::Rollback {
        lr_factor: 1e-33,
        max_rollbacks: 1,
    };
    let (_, resumed) = diverging(runs.path(), policy);
    let summary = resumed.unwrap();
    assert_eq!(summary.iterations, 20);
    assert!(
        summary.warnings.iter().any(|w| w.contains("rolled back")),
        "{:?}",
        summary.warnings
    );
    assert!(
        generator_weights(&summary.checkpoint)
            .iter()
            .all(|w| w.is_finite())
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(summary.checkpoint.join("state.json")).unwrap())
            .unwrap();
    assert_eq!(state["rollbacks"], 1);
    // A second divergence is more than the spec allows.
    let runs = tempfile::tempdir().unwrap();
    let policy = OnDivergence::Rollback {
        lr_factor: 0.5,
        max_rollbacks: 1,
    };
    let (_, resumed) = diverging(runs.path(), policy);
    assert!(matches!(resumed, Err(TrainError::Diverged { .. })));
}

#[test]
fn a_stop_request_ends_the_run_with_a_checkpoint_that_resumes_exactly() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let runs = tempfile::tempdir().unwrap();
    let straight = train(&ring_spec(10), runs.path(), None).unwrap();
    let options = RunOptions {
        runs_root: runs.path().to_path_buf(),
        resume: None,
        progress: ProgressMode::Quiet,
        config_text: None,
        stop: Some(Arc::new(AtomicBool::new(true))),
    };
    let stopped = ganforge_trainer::run(&ring_spec(10), &Device::flex(), &options).unwrap();
    assert!(stopped.interrupted);
    assert_eq!(stopped.iterations, 1);
    assert!(stopped.checkpoint.ends_with("step-00000001"));
    let resumed = train(&ring_spec(10), runs.path(), Some(&stopped.run_dir)).unwrap();
    assert!(!resumed.interrupted);
    assert!(generator_weights(&straight.checkpoint) == generator_weights(&resumed.checkpoint));
}

/// A spectrally normalised discriminator learns: its stored weights move with training and
/// its scores on real and generated items come apart.
#[test]
fn a_spectrally_normalised_discriminator_learns() {
    use burn::module::Module;
    use ganforge_trainer::objective::NoClock;
    use rand::SeedableRng;
    let spec = RunSpec {
        spectral_norm: true,
        ..ring_spec(1)
    };
    let device = Device::flex().autodiff();
    let mut gan = Gan::new(&spec.gan_spec(), &device, spec.init_seeds()).unwrap();
    let weights = |gan: &Gan| {
        let mut c = Collect(Vec::new());
        gan.discriminator.visit(&mut c);
        c.0
    };
    let before = weights(&gan);
    let objective = spec.objective();
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(0);
    let mut last = Vec::new();
    for _ in 0..200 {
        let real: Vec<f32> = (0..64)
            .map(|i| if i % 2 == 0 { 2.0 } else { 0.0 })
            .collect();
        let real = burn::Tensor::<1>::from_floats(real.as_slice(), &device).reshape([32, 2, 1, 1]);
        let labels = Some(vec![0u32; 32]);
        let batch = objective
            .batch_shape()
            .batch(real, labels, &mut rng, &device);
        let (next, stats) = objective.iteration(gan, Vec::new(), batch, &mut NoClock);
        gan = next;
        last = stats
            .values
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
    }
    let after = weights(&gan);
    let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
    assert!(
        moved > before.len() / 2,
        "{moved} of {} moved",
        before.len()
    );
    // [loss_d, loss_g, D(x), D(G(z))]
    assert!(
        last[2] - last[3] > 0.2,
        "D(x) and D(G(z)) still together: {last:?}"
    );
}
