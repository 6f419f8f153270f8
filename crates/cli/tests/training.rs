//! End-to-end training on flex with small synthetic data: every architecture trains, the
//! toy GAN covers the ring, a resumed run equals an uninterrupted one, seeds reproduce.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{checkpoint_weights, losses, mnist_fixture, plan, run};
use ganforge_backend::BackendKind;
use ganforge_trainer::metrics_log::read_lines;

fn dcgan_mnist_toml(data: &Path) -> String {
    format!(
        "[model]\narchitecture = \"dcgan-mnist\"\ng_width = 32\nd_width = 8\n\
         [data]\ndataset = \"mnist\"\ndir = \"{}\"\n\
         [train]\nbatch_size = 8\nlog_every = 2\nsample_every = 4\nsample_count = 16\n",
        data.display()
    )
}

/// GAN training on the ring is chaotic: a one-ulp change anywhere (a GEMM kernel, an
/// activation's formula) moves a single seed's end state between "all modes, sharp" and "a
/// mode or three still forming". The test therefore judges the recipe by the median of three
/// seeds, as papers on mode collapse report medians over seeds, not by one trajectory. The
/// GEMM kernels differ between CPUs, and so do the trajectories: on an AVX-512 machine seeds
/// 1-3 end with 8/8/8 modes and 0.56/0.81/0.80 of the points near a mode (median 0.80), so
/// the quality bound sits below that; a collapsed or untrained generator scores far lower.
#[test]
fn toy_gan_covers_the_ring_of_eight() {
    let runs = tempfile::tempdir().unwrap();
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/toy-ring8.toml"
    ))
    .unwrap();
    let scores: Vec<_> = [1, 2, 3]
        .into_iter()
        .map(|seed| {
            let seed = format!("train.seed={seed}");
            let p = plan(
                &toml,
                &[
                    "train.sample_every=100000",
                    "train.checkpoint_every=100000",
                    &seed,
                ],
            );
            run(&p, runs.path(), None).toy.expect("toy score")
        })
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[1]
    };
    let modes = median(scores.iter().map(|s| s.modes_covered as f64).collect());
    let quality = median(scores.iter().map(|s| s.high_quality_fraction).collect());
    assert!(modes >= 7.0, "{scores:?}");
    assert!(quality >= 0.75, "{scores:?}");
}

#[test]
fn resume_continues_exactly() {
    let data = tempfile::tempdir().unwrap();
    mnist_fixture(data.path(), 40);
    let toml = dcgan_mnist_toml(data.path());
    let runs = tempfile::tempdir().unwrap();

    // 2K steps straight through (epochs of 5 batches, so both runs cross epoch boundaries).
    let straight = plan(&toml, &["train.steps=8"]);
    let full = run(&straight, runs.path(), None);

    // K steps, stop, resume to 2K.
    let first = run(&plan(&toml, &["train.steps=4"]), runs.path(), None);
    let resumed_plan = common::resume_plan(&first.run_dir, &["train.steps=8"]);
    let resumed = run(&resumed_plan, runs.path(), Some(&first.run_dir));
    assert_eq!(resumed.run_dir, first.run_dir);
    assert_eq!(resumed.iterations, 8);

    let a = checkpoint_weights(&straight, &full.checkpoint);
    let b = checkpoint_weights(&straight, &resumed.checkpoint);
    assert!(!a.0.is_empty() && !a.1.is_empty());
    assert_eq!(a.0, b.0, "generator weights differ after resume");
    assert_eq!(a.1, b.1, "discriminator weights differ after resume");
    assert_eq!(losses(&full.run_dir), losses(&resumed.run_dir));
}

#[test]
fn same_seed_same_losses_other_seed_other_losses() {
    let data = tempfile::tempdir().unwrap();
    mnist_fixture(data.path(), 24);
    let toml = dcgan_mnist_toml(data.path());
    let runs = tempfile::tempdir().unwrap();
    let a = run(
        &plan(&toml, &["train.steps=4", "train.seed=3"]),
        runs.path(),
        None,
    );
    let b = run(
        &plan(&toml, &["train.steps=4", "train.seed=3"]),
        runs.path(),
        None,
    );
    let c = run(
        &plan(&toml, &["train.steps=4", "train.seed=4"]),
        runs.path(),
        None,
    );
    assert_eq!(losses(&a.run_dir).len(), 2);
    assert_eq!(losses(&a.run_dir), losses(&b.run_dir));
    assert_ne!(losses(&a.run_dir), losses(&c.run_dir));
}

/// A few steps of each architecture: finite losses, the run directory is complete, and the
/// checkpoint loads back for sampling.
#[test]
fn every_architecture_trains_and_samples() {
    let data = tempfile::tempdir().unwrap();
    mnist_fixture(data.path(), 24);
    let folder = tempfile::tempdir().unwrap();
    for i in 0..8u8 {
        let img = image::RgbImage::from_fn(12, 10, |x, y| {
            image::Rgb([x as u8 * 20, y as u8 * 20, i * 30])
        });
        img.save(folder.path().join(format!("{i}.png"))).unwrap();
    }
    let cases = [
        format!(
            "[model]\narchitecture = \"mlp-mnist\"\ng_hidden = [16, 32]\nd_hidden = [16]\n\
             [data]\ndataset = \"mnist\"\ndir = \"{}\"\n",
            data.path().display()
        ),
        dcgan_mnist_toml(data.path()),
        format!(
            "[model]\narchitecture = \"dcgan\"\nimage_size = 8\ng_width = 8\nd_width = 8\n\
             [data]\ndataset = \"image-folder\"\ndir = \"{}\"\nimage_size = 8\n",
            folder.path().display()
        ),
        "[model]\narchitecture = \"toy-mlp\"\nwidth = 16\n[data]\ndataset = \"toy-grid25\"\nsamples = 64\n"
            .to_string(),
    ];
    let runs = tempfile::tempdir().unwrap();
    for toml in cases {
        let p = plan(
            &toml,
            &[
                "train.steps=3",
                "train.batch_size=4",
                "train.log_every=1",
                "train.sample_every=3",
            ],
        );
        let summary = run(&p, runs.path(), None);
        let last = summary.last.clone().expect("metrics");
        assert!(last.loss_d.is_finite() && last.loss_g.is_finite(), "{toml}");
        // Training moved every network: each one's weights differ from their initial values
        // in most entries.
        let (g0, d0) = common::initial_weights(&p);
        let (g, d) = checkpoint_weights(&p, &summary.checkpoint);
        for (what, before, after) in [("generator", &g0, &g), ("discriminator", &d0, &d)] {
            let moved = before.iter().zip(after).filter(|(a, b)| a != b).count();
            assert!(
                moved * 2 > before.len(),
                "{what}: {moved} of {} weights moved in {toml}",
                before.len()
            );
        }
        let dir = &summary.run_dir;
        for file in [
            "resolved.toml",
            "spec.json",
            "metrics.jsonl",
            "curves.png",
            "summary.json",
            "samples/step-00000003.png",
        ] {
            assert!(dir.join(file).is_file(), "{file} missing for {toml}");
        }
        let out = tempfile::tempdir().unwrap();
        let device = burn::prelude::Device::flex();
        let options = ganforge_trainer::generate::GenerateOptions {
            count: 5,
            out: out.path().to_path_buf(),
            seed: 1,
            class: None,
            scale: 1,
            weights: Default::default(),
        };
        let made = ganforge_trainer::generate::generate(dir, &options, &device).unwrap();
        assert_eq!(made.checkpoint, summary.checkpoint);
        let last_file = made.files.last().unwrap();
        assert!(last_file.is_file());
        image::open(last_file).expect("a readable PNG");
    }
}

/// `[model] spectral_norm_g` reaches the run's spec where the generator takes it and is
/// refused by key where it has transposed convolutions.
#[test]
fn generator_spectral_norm_is_read_and_refused_by_key() {
    let data = tempfile::tempdir().unwrap();
    let mlp = format!(
        "[model]\narchitecture = \"mlp-mnist\"\nspectral_norm_g = true\n\
         [data]\ndataset = \"mnist\"\ndir = \"{}\"\n",
        data.path().display()
    );
    let spec = common::try_plan_on(&mlp, &[], BackendKind::Flex).unwrap();
    assert!(spec.spectral_norm_g && !spec.spectral_norm);
    let dcgan = dcgan_mnist_toml(data.path()).replace(
        "architecture = \"dcgan-mnist\"\n",
        "architecture = \"dcgan-mnist\"\nspectral_norm_g = true\n",
    );
    let err = common::try_plan_on(&dcgan, &[], BackendKind::Flex)
        .expect_err("a DCGAN generator refuses spectral norm");
    assert!(err.to_string().contains("model.spectral_norm_g"), "{err}");
}

/// Adaptive augmentation: the probability moves with the discriminator's scores on real
/// items (logged as `augment_p`), the run resumes exactly with a window open across the
/// checkpoint, and its keys are refused by name where they do not apply.
#[test]
fn adaptive_augmentation_moves_its_probability_and_resumes_exactly() {
    let data = tempfile::tempdir().unwrap();
    mnist_fixture(data.path(), 32);
    let plain = dcgan_mnist_toml(data.path());
    // A fast discriminator scores real items as real within a step; with target -1 any real
    // item scored real raises the probability, by 24 / 48 per window of three steps of 8
    // items. The first window closes after step 2, so it is open at the checkpoint after
    // step 1.
    let fast = format!(
        "{plain}[optimizer.discriminator]\nlr = 0.05\n\
         [augment]\npolicy = \"color,translation,cutout\"\n"
    );
    let adaptive =
        format!("{fast}adaptive = true\ntarget = -1.0\nadjust_every = 3\nramp_images = 48\n");
    let runs = tempfile::tempdir().unwrap();
    let with = common::assert_resumes_exactly(&adaptive, runs.path(), "adaptive augmentation");
    let logged: Vec<f32> = read_lines(&with.run_dir.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|line| line.extra["augment_p"])
        .collect();
    // Each line averages two iterations' probabilities, as each iteration ends: 0 and 0,
    // then 0.5 (the window closed in iteration 3) and 0.5.
    assert_eq!(logged, [0.0, 0.5], "augment_p per logged window");
    let always = run(&plan(&fast, &["train.steps=4"]), runs.path(), None);
    let spec = plan(&plain, &[]);
    assert!(
        checkpoint_weights(&spec, &with.checkpoint).0
            != checkpoint_weights(&spec, &always.checkpoint).0,
        "the adaptive probability changed nothing"
    );
    let refused = [
        ("[augment]\ntarget = 0.5\n", "augment.target"),
        (
            "[augment]\nadaptive = true\ntarget = 1.5\n",
            "augment.target",
        ),
        (
            "[augment]\nadaptive = true\nadjust_every = 0\n",
            "augment.adjust_every",
        ),
        (
            "[augment]\nadaptive = true\npolicy = \"\"\n",
            "augment.policy",
        ),
        ("[augment]\nprobability = 0.0\n", "augment.probability"),
        ("[augment]\nprobability = 1.5\n", "augment.probability"),
        (
            "[augment]\nadaptive = true\nprobability = 0.5\n",
            "augment.probability",
        ),
    ];
    for (section, key) in refused {
        let err = common::try_plan_on(&format!("{plain}{section}"), &[], BackendKind::Flex)
            .err()
            .unwrap_or_else(|| panic!("{section:?} accepted"));
        assert!(err.to_string().contains(key), "{section:?}: {err}");
    }
}

/// DiffAugment and ADA's pipeline change training, resume exactly (their factors come from
/// their own seed and the step), and are refused by key where they cannot apply.
#[test]
fn augmentation_is_live_resumes_exactly_and_is_refused_for_points() {
    let data = tempfile::tempdir().unwrap();
    mnist_fixture(data.path(), 32);
    let plain = dcgan_mnist_toml(data.path());
    let runs = tempfile::tempdir().unwrap();
    let without = run(&plan(&plain, &["train.steps=4"]), runs.path(), None);
    let spec = plan(&plain, &[]);
    for policy in ["color,translation,cutout", "bgc"] {
        let augmented = format!("{plain}[augment]\npolicy = \"{policy}\"\n");
        let with = common::assert_resumes_exactly(&augmented, runs.path(), policy);
        let weights = checkpoint_weights(&spec, &with.checkpoint).0;
        assert_ne!(
            weights,
            checkpoint_weights(&spec, &without.checkpoint).0,
            "{policy} changed nothing"
        );
        let sometimes = run(
            &plan(&augmented, &["train.steps=4", "augment.probability=0.5"]),
            runs.path(),
            None,
        );
        assert_ne!(
            weights,
            checkpoint_weights(&spec, &sometimes.checkpoint).0,
            "{policy}: probability 0.5 changed nothing"
        );
    }
    for policy in ["flip", ""] {
        let toml = format!("{plain}[augment]\npolicy = \"{policy}\"\n");
        let err = common::try_plan_on(&toml, &[], ganforge_backend::BackendKind::Flex)
            .err()
            .unwrap_or_else(|| panic!("policy {policy:?} accepted"));
        assert!(err.to_string().contains("augment.policy"), "{err}");
    }
    let toy = "[model]\narchitecture = \"toy-mlp\"\n[data]\ndataset = \"toy-ring8\"\n\
               [augment]\npolicy = \"color\"\n";
    let err = common::try_plan_on(toy, &[], ganforge_backend::BackendKind::Flex)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("augment.policy") && err.to_string().contains("points"),
        "{err}"
    );
}
