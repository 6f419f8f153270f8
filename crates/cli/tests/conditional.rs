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

/// A classifier trained on [`class_folders`] in `folder`, saved in `out`.
fn train_classifier(folder: &Path, out: &Path) -> ganforge_trainer::classify::ClassifierInfo {
    use ganforge_trainer::DataSpec;
    use ganforge_trainer::classify::{self, ClassifierTraining};
    let data = DataSpec::ImageFolder {
        dir: folder.to_path_buf(),
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
    classify::train(&spec, &Device::flex(), out).unwrap()
}

/// A projection-conditional `dcgan` trained `steps` steps on [`class_folders`] in `folder`.
fn train_projection_gan(folder: &Path, runs: &Path, steps: u64) -> std::path::PathBuf {
    let toml = format!(
        "[model]\narchitecture = \"dcgan\"\nimage_size = 8\ng_width = 8\nd_width = 8\n\
         conditioning = \"projection\"\n[data]\ndataset = \"image-folder\"\ndir = \"{}\"\n\
         image_size = 8\n",
        folder.display()
    );
    let steps = format!("train.steps={steps}");
    run(&plan(&toml, &[&steps, "train.batch_size=4"]), runs, None).run_dir
}

/// `classify train` on a tiny image folder, then `classify score` of a conditional run on the
/// same classes; a generator of other classes is refused by name.
#[test]
fn classifier_trains_and_scores_a_conditional_generator() {
    use ganforge_trainer::classify;
    let folder = tempfile::tempdir().unwrap();
    class_folders(folder.path());
    let device = Device::flex();
    let out = tempfile::tempdir().unwrap();
    let info = train_classifier(folder.path(), out.path());
    assert_eq!(info.class_names, ["cat", "dog", "frog"]);
    assert_eq!(info.test_items, 1);
    let (_, loaded) = classify::load(out.path(), &device).unwrap();
    assert_eq!(loaded, info);

    let runs = tempfile::tempdir().unwrap();
    let run_dir = train_projection_gan(folder.path(), runs.path(), 2);
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

/// `eval` scores a conditional checkpoint with every metric in the classifier's features:
/// each score present under its extractor's name and in its range, the reference drawn from
/// the split asked for, the same seed giving the same scores; impossible requests refused.
#[test]
fn eval_scores_a_checkpoint_in_classifier_features() {
    use ganforge_data::Split;
    use ganforge_trainer::eval::{EvalOptions, Metric, evaluate};
    let folder = tempfile::tempdir().unwrap();
    class_folders(folder.path());
    let classifier = tempfile::tempdir().unwrap();
    train_classifier(folder.path(), classifier.path());
    let runs = tempfile::tempdir().unwrap();
    let run_dir = train_projection_gan(folder.path(), runs.path(), 2);
    let device = Device::flex();
    let options = EvalOptions {
        metrics: Metric::ALL.to_vec(),
        samples: 12,
        reference: Split::Train,
        seed: 3,
        weights: Default::default(),
        kid: ganforge_metrics::KidConfig {
            subsets: 5,
            subset_size: 8,
            seed: 0,
        },
    };
    let report = evaluate(&run_dir, classifier.path(), &options, &device).unwrap();
    let names: Vec<&str> = report.scores.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "class_acc_classifier",
            "coverage_classifier",
            "density_classifier",
            "fid_classifier",
            "is_classifier",
            "is_classifier_std",
            "kid_classifier",
            "kid_classifier_std",
            "precision_classifier",
            "recall_classifier",
        ]
    );
    let score = |name: &str| report.scores[name];
    for unit in ["class_acc", "coverage", "precision", "recall"] {
        assert!((0.0..=1.0).contains(&score(&format!("{unit}_classifier"))));
    }
    assert!(score("fid_classifier") > 0.0);
    assert!((1.0..=3.0).contains(&score("is_classifier")));
    // The image folder's training split: 11 of its 12 pictures.
    assert_eq!(
        (report.reference_items, report.reference_split),
        (11, "train")
    );
    let test = EvalOptions {
        reference: Split::Test,
        metrics: vec![Metric::Fid],
        ..options.clone()
    };
    let test_report = evaluate(&run_dir, classifier.path(), &test, &device);
    // One held-out picture: too few for a covariance, said by name.
    let err = test_report.unwrap_err();
    assert!(
        err.is_bad_input() && err.to_string().contains("at least 2"),
        "{err}"
    );
    // The reference features are cached beside the classifier; a damaged cache is redone.
    let again = evaluate(&run_dir, classifier.path(), &options, &device).unwrap();
    assert!(!report.reference_cached && again.reference_cached);
    assert_eq!(again.scores, report.scores);
    let cache = classifier.path().join("reference/train-n12-seed3.bin");
    let bytes = std::fs::read(&cache).unwrap();
    std::fs::write(&cache, &bytes[..bytes.len() - 3]).unwrap();
    let redone = evaluate(&run_dir, classifier.path(), &options, &device).unwrap();
    assert!(!redone.reference_cached);
    assert_eq!(redone.scores, report.scores);
    let other_seed = EvalOptions {
        seed: 4,
        ..options.clone()
    };
    let other = evaluate(&run_dir, classifier.path(), &other_seed, &device).unwrap();
    assert_ne!(
        other.scores["fid_classifier"],
        report.scores["fid_classifier"]
    );

    let unconditional = runs.path().join("unconditional");
    let toml = format!(
        "[model]\narchitecture = \"dcgan\"\nimage_size = 8\ng_width = 8\nd_width = 8\n\
         [data]\ndataset = \"image-folder\"\ndir = \"{}\"\nimage_size = 8\n",
        folder.path().display()
    );
    let plain_dir = run(
        &plan(&toml, &["train.steps=1", "train.batch_size=4"]),
        &unconditional,
        None,
    )
    .run_dir;
    let err = evaluate(&plain_dir, classifier.path(), &options, &device).unwrap_err();
    assert!(
        err.is_bad_input() && err.to_string().contains("not class-conditional"),
        "{err}"
    );
    let fid_only = EvalOptions {
        metrics: vec![Metric::Fid],
        ..options
    };
    let report = evaluate(&plain_dir, classifier.path(), &fid_only, &device).unwrap();
    assert_eq!(report.scores.keys().collect::<Vec<_>>(), ["fid_classifier"]);
}
