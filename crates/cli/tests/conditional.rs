//! Class-conditional training on flex: every method trains on every architecture and
//! generates the class asked for, a conditional run resumes exactly, the conditional toy GAN
//! puts each class on its own mode, and bad class input is rejected by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use burn::prelude::Device;
use common::{checkpoint_weights, losses, mnist_fixture, plan, run};
use ganforge_trainer::generate::{GenerateOptions, generate};

const METHODS: [&str; 3] = ["concat", "projection", "acgan"];

fn generate_options(out: &Path, count: usize, class: Option<&str>) -> GenerateOptions {
    GenerateOptions {
        count,
        out: out.to_path_buf(),
        seed: 1,
        class: class.map(str::to_string),
        scale: 1,
        weights: Default::default(),
    }
}

/// Three sub-folders of small RGB pictures, one colour per class.
fn class_folders(dir: &Path) {
    for (c, name) in ["cat", "dog", "frog"].iter().enumerate() {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..4u8 {
            let img = image::RgbImage::from_fn(8, 8, |x, _| {
                image::Rgb([c as u8 * 100, x as u8 * 30, i * 40])
            });
            img.save(sub.join(format!("{i}.png"))).unwrap();
        }
    }
}

fn cases(mnist: &Path, folder: &Path) -> Vec<String> {
    vec![
        format!(
            "[model]\narchitecture = \"mlp-mnist\"\ng_hidden = [16, 32]\nd_hidden = [16]\n\
             [data]\ndataset = \"mnist\"\ndir = \"{}\"\n",
            mnist.display()
        ),
        format!(
            "[model]\narchitecture = \"dcgan-mnist\"\ng_width = 16\nd_width = 8\n\
             [data]\ndataset = \"mnist\"\ndir = \"{}\"\n",
            mnist.display()
        ),
        format!(
            "[model]\narchitecture = \"dcgan\"\nimage_size = 8\ng_width = 8\nd_width = 8\n\
             [data]\ndataset = \"image-folder\"\ndir = \"{}\"\nimage_size = 8\n",
            folder.display()
        ),
        "[model]\narchitecture = \"toy-mlp\"\nwidth = 16\n[data]\ndataset = \"toy-ring8\"\nsamples = 64\n"
            .to_string(),
    ]
}

/// A few steps of each method on each architecture: finite losses (and AC-GAN's class
/// losses logged), one grid row per class, and `generate` writing the class asked for at the
/// data's own size.
#[test]
fn every_method_trains_on_every_architecture_and_generates_by_class() {
    let mnist = tempfile::tempdir().unwrap();
    mnist_fixture(mnist.path(), 24);
    let folder = tempfile::tempdir().unwrap();
    class_folders(folder.path());
    let runs = tempfile::tempdir().unwrap();
    let device = Device::flex();
    for toml in cases(mnist.path(), folder.path()) {
        for method in METHODS {
            let conditioning = format!("model.conditioning={method}");
            let p = plan(
                &toml,
                &[
                    &conditioning,
                    "train.steps=2",
                    "train.batch_size=4",
                    "train.log_every=1",
                    "train.sample_count=6",
                ],
            );
            let summary = run(&p, runs.path(), None);
            let last = summary.last.clone().expect("metrics");
            assert!(last.loss_d.is_finite() && last.loss_g.is_finite(), "{toml}");
            let class_losses = last.extra.contains_key("class_loss_real");
            assert_eq!(
                class_losses,
                method == "acgan",
                "{method}: {:?}",
                last.extra
            );

            let out = tempfile::tempdir().unwrap();
            let class = p.class_names[1].clone();
            let made = generate(
                &summary.run_dir,
                &generate_options(out.path(), 3, Some(&class)),
                &device,
            )
            .unwrap();
            assert!(made.files.last().unwrap().is_file());
            if p.data.toy().is_some() {
                continue;
            }
            let [c, h, w] = p.architecture.sample_shape();
            let first = image::open(out.path().join("sample-00000.png")).unwrap();
            assert_eq!((first.width(), first.height()), (w as u32, h as u32));
            assert_eq!(first.color().channel_count() as usize, c, "{toml}");
            let labels = std::fs::read(out.path().join("labels.npy")).unwrap();
            // Three int64 ones after the header.
            assert_eq!(
                &labels[labels.len() - 24..],
                &[1u8, 0, 0, 0, 0, 0, 0, 0].repeat(3)
            );
        }
    }
}

#[test]
fn conditional_resume_continues_exactly() {
    let data = tempfile::tempdir().unwrap();
    mnist_fixture(data.path(), 40);
    let toml = format!(
        "[model]\narchitecture = \"dcgan-mnist\"\ng_width = 16\nd_width = 8\n\
         conditioning = \"acgan\"\n[data]\ndataset = \"mnist\"\ndir = \"{}\"\n\
         [train]\nbatch_size = 8\nlog_every = 2\nsample_every = 4\nsample_count = 10\n",
        data.path().display()
    );
    let runs = tempfile::tempdir().unwrap();
    let straight = plan(&toml, &["train.steps=8"]);
    let full = run(&straight, runs.path(), None);
    let first = run(&plan(&toml, &["train.steps=4"]), runs.path(), None);
    let resumed_plan = plan(
        &std::fs::read_to_string(first.run_dir.join("resolved.toml")).unwrap(),
        &["train.steps=8"],
    );
    let resumed = run(&resumed_plan, runs.path(), Some(&first.run_dir));
    assert_eq!(resumed.iterations, 8);
    let a = checkpoint_weights(&straight, &full.checkpoint);
    let b = checkpoint_weights(&straight, &resumed.checkpoint);
    assert_eq!(a.0, b.0, "generator weights differ after resume");
    assert_eq!(a.1, b.1, "discriminator weights differ after resume");
    assert_eq!(losses(&full.run_dir), losses(&resumed.run_dir));
}

/// The shipped conditional ring config (its fixed seed): each class's samples land on that
/// class's own mode.
#[test]
fn conditional_toy_gan_puts_each_class_on_its_own_mode() {
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/toy-ring8-conditional.toml"
    ))
    .unwrap();
    let runs = tempfile::tempdir().unwrap();
    let p = plan(
        &toml,
        &["train.sample_every=100000", "train.checkpoint_every=100000"],
    );
    let score = run(&p, runs.path(), None).toy.expect("toy score");
    let hits = score.class_hits.clone().expect("per-class score");
    assert_eq!(hits.len(), 8);
    assert!(hits.iter().all(|&h| h >= 0.95), "{score:?}");
}

#[test]
fn bad_class_input_is_named() {
    let data = tempfile::tempdir().unwrap();
    mnist_fixture(data.path(), 24);
    let runs = tempfile::tempdir().unwrap();
    let toml = format!(
        "[model]\narchitecture = \"mlp-mnist\"\ng_hidden = [8]\nd_hidden = [8]\n\
         [data]\ndataset = \"mnist\"\ndir = \"{}\"\n",
        data.path().display()
    );
    let unconditional = run(
        &plan(&toml, &["train.steps=1", "train.batch_size=4"]),
        runs.path(),
        None,
    );
    let device = Device::flex();
    let out = tempfile::tempdir().unwrap();
    let err = generate(
        &unconditional.run_dir,
        &generate_options(out.path(), 2, Some("3")),
        &device,
    )
    .unwrap_err();
    assert!(err.to_string().contains("unconditional"), "{err}");
    assert!(err.is_bad_input());

    let conditional = run(
        &plan(
            &toml,
            &[
                "train.steps=1",
                "train.batch_size=4",
                "model.conditioning=concat",
            ],
        ),
        runs.path(),
        None,
    );
    let err = generate(
        &conditional.run_dir,
        &generate_options(out.path(), 2, Some("dog")),
        &device,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("dog") && text.contains("0, 1, 2"), "{text}");
    assert!(err.is_bad_input());
    // By index and by name (MNIST's names are its digits), and all classes.
    for class in ["7", "all"] {
        generate(
            &conditional.run_dir,
            &generate_options(out.path(), 2, Some(class)),
            &device,
        )
        .unwrap();
    }

    // Conditioning on pictures without class folders.
    let flat = tempfile::tempdir().unwrap();
    for i in 0..4u8 {
        image::RgbImage::from_pixel(8, 8, image::Rgb([i, i, i]))
            .save(flat.path().join(format!("{i}.png")))
            .unwrap();
    }
    let toml = format!(
        "[model]\narchitecture = \"dcgan\"\nimage_size = 8\nconditioning = \"projection\"\n\
         [data]\ndataset = \"image-folder\"\ndir = \"{}\"\nimage_size = 8\n",
        flat.path().display()
    );
    let err = common::try_plan_on(&toml, &[], ganforge_backend::BackendKind::Flex).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("model.conditioning") && text.contains("labels"),
        "{text}"
    );
    assert!(err.is_bad_input());
}

/// `classify train` on a tiny image folder, then `classify score` of a conditional run on the
/// same classes; a generator of other classes is refused by name.
#[test]
fn classifier_trains_and_scores_a_conditional_generator() {
    use ganforge_trainer::DataSpec;
    use ganforge_trainer::classify::{self, ClassifierTraining};
    let folder = tempfile::tempdir().unwrap();
    class_folders(folder.path());
    let data = DataSpec::ImageFolder {
        dir: folder.path().to_path_buf(),
        image_size: 8,
        color: ganforge_data::ColorMode::Rgb,
    };
    let spec = ClassifierTraining {
        data,
        test_data: None,
        epochs: 2,
        batch_size: 4,
        lr: 1e-3,
        width: 4,
        seed: 0,
        verbose: false,
    };
    let device = Device::flex();
    let out = tempfile::tempdir().unwrap();
    let info = classify::train(&spec, &device, out.path()).unwrap();
    assert_eq!(info.class_names, ["cat", "dog", "frog"]);
    assert_eq!(info.test_items, 1);
    let (_, loaded) = classify::load(out.path(), &device).unwrap();
    assert_eq!(loaded, info);

    let runs = tempfile::tempdir().unwrap();
    let toml = format!(
        "[model]\narchitecture = \"dcgan\"\nimage_size = 8\ng_width = 8\nd_width = 8\n\
         conditioning = \"projection\"\n[data]\ndataset = \"image-folder\"\ndir = \"{}\"\n\
         image_size = 8\n",
        folder.path().display()
    );
    let run_dir = run(
        &plan(&toml, &["train.steps=2", "train.batch_size=4"]),
        runs.path(),
        None,
    )
    .run_dir;
    let scores = classify::score(out.path(), &run_dir, 5, 0, Default::default(), &device).unwrap();
    assert_eq!(scores.per_class.len(), 3);
    assert!(
        scores
            .per_class
            .iter()
            .all(|(_, f)| (0.0..=1.0).contains(f))
    );
    assert_eq!(scores.per_class[2].0, "frog");

    let mnist = tempfile::tempdir().unwrap();
    mnist_fixture(mnist.path(), 24);
    let other = format!(
        "[model]\narchitecture = \"mlp-mnist\"\ng_hidden = [8]\nd_hidden = [8]\n\
         conditioning = \"concat\"\n[data]\ndataset = \"mnist\"\ndir = \"{}\"\n",
        mnist.path().display()
    );
    let other_dir = run(
        &plan(&other, &["train.steps=1", "train.batch_size=4"]),
        runs.path(),
        None,
    )
    .run_dir;
    let err =
        classify::score(out.path(), &other_dir, 5, 0, Default::default(), &device).unwrap_err();
    assert!(
        err.to_string().contains("classes") && err.is_bad_input(),
        "{err}"
    );
}
