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
        format!(
            "[model]\narchitecture = \"sngan-resnet\"\nimage_size = 8\ng_width = 8\nd_width = 8\n\
             latent_dim = 8\n[data]\ndataset = \"image-folder\"\ndir = \"{}\"\nimage_size = 8\n",
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
    train_classifier_held_out_on(folder, None, out)
}

/// [`train_classifier`] with the held-out items read from `test` instead.
fn train_classifier_held_out_on(
    folder: &Path,
    test: Option<&Path>,
    out: &Path,
) -> ganforge_trainer::classify::ClassifierInfo {
    use ganforge_trainer::DataSpec;
    use ganforge_trainer::classify::{self, ClassifierTraining};
    let data = |dir: &Path| DataSpec::ImageFolder {
        dir: dir.to_path_buf(),
        image_size: 8,
        color: ganforge_data::ColorMode::Rgb,
    };
    let spec = ClassifierTraining {
        data: data(folder),
        test_data: test.map(data),
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
    let real: Vec<_> = scores
        .classifier_per_class
        .iter()
        .map(|(_, a)| *a)
        .collect();
    assert_eq!(real, info.test_accuracy_per_class);

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

/// The classifier's accuracy per class on a held-out set of four pictures per class: each a
/// multiple of a quarter, their mean the overall accuracy; a class without held-out items
/// has none, and the class score's ratio to the real accuracy skips it.
#[test]
fn classifier_records_its_accuracy_per_class() {
    let folder = tempfile::tempdir().unwrap();
    class_folders(folder.path());
    let out = tempfile::tempdir().unwrap();
    let info = train_classifier_held_out_on(folder.path(), Some(folder.path()), out.path());
    assert_eq!(info.test_items, 12);
    let per_class: Vec<f64> = info
        .test_accuracy_per_class
        .iter()
        .map(|a| a.unwrap())
        .collect();
    assert_eq!(per_class.len(), 3);
    for accuracy in &per_class {
        assert_eq!((accuracy * 4.0).fract(), 0.0, "{per_class:?}");
    }
    let mean = per_class.iter().sum::<f64>() / 3.0;
    assert!(
        (mean - info.test_accuracy).abs() < 1e-12,
        "{per_class:?} {info:?}"
    );

    let unsplit = tempfile::tempdir().unwrap();
    let info = train_classifier(folder.path(), unsplit.path());
    let known = info.test_accuracy_per_class.iter().flatten().count();
    assert_eq!(known, info.test_items, "{info:?}");
}

/// Scoring in the features of the classifier at `path`.
fn by_classifier(path: &std::path::Path) -> ganforge_trainer::eval::ExtractorSpec {
    ganforge_trainer::eval::ExtractorSpec::Classifier(path.to_path_buf())
}

/// The one file in `dir` whose name ends in `suffix`.
fn only_file(dir: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
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
        // Every metric of an image generator (mode counting is for stacked data).
        metrics: Metric::ALL
            .into_iter()
            .filter(|m| *m != Metric::Modes)
            .collect(),
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
    let report = evaluate(
        &run_dir,
        &by_classifier(classifier.path()),
        &options,
        &device,
    )
    .unwrap();
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
    let test_report = evaluate(&run_dir, &by_classifier(classifier.path()), &test, &device);
    // One held-out picture: too few for a covariance, said by name.
    let err = test_report.unwrap_err();
    assert!(
        err.is_bad_input() && err.to_string().contains("at least 2"),
        "{err}"
    );
    // The reference features are cached beside the classifier; a damaged cache is redone.
    let again = evaluate(
        &run_dir,
        &by_classifier(classifier.path()),
        &options,
        &device,
    )
    .unwrap();
    assert!(!report.reference_cached && again.reference_cached);
    assert_eq!(again.scores, report.scores);
    let cache = only_file(&classifier.path().join("reference"), "-train-n12-seed3.bin");
    let bytes = std::fs::read(&cache).unwrap();
    std::fs::write(&cache, &bytes[..bytes.len() - 3]).unwrap();
    let redone = evaluate(
        &run_dir,
        &by_classifier(classifier.path()),
        &options,
        &device,
    )
    .unwrap();
    assert!(!redone.reference_cached);
    assert_eq!(redone.scores, report.scores);
    let other_seed = EvalOptions {
        seed: 4,
        ..options.clone()
    };
    let other = evaluate(
        &run_dir,
        &by_classifier(classifier.path()),
        &other_seed,
        &device,
    )
    .unwrap();
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
    let err = evaluate(
        &plain_dir,
        &by_classifier(classifier.path()),
        &options,
        &device,
    )
    .unwrap_err();
    assert!(
        err.is_bad_input() && err.to_string().contains("not class-conditional"),
        "{err}"
    );
    let fid_only = EvalOptions {
        metrics: vec![Metric::Fid],
        ..options
    };
    let report = evaluate(
        &plain_dir,
        &by_classifier(classifier.path()),
        &fid_only,
        &device,
    )
    .unwrap();
    assert_eq!(report.scores.keys().collect::<Vec<_>>(), ["fid_classifier"]);
}

/// `train.eval_every` scores the run in the classifier's features: the scores join the
/// metrics lines of the evaluated iterations, `checkpoints/best` holds the weights of the best
/// one by the ranking score (`eval` of it gives the logged score), `curves.png` gains the
/// score's panel, a resumed run scores and ranks exactly as an uninterrupted one, and
/// impossible settings are refused by key.
#[test]
fn a_run_scores_itself_and_keeps_its_best_checkpoint() {
    use ganforge_trainer::metrics_log::{MetricsLine, read_lines};
    let folder = tempfile::tempdir().unwrap();
    class_folders(folder.path());
    let classifier = tempfile::tempdir().unwrap();
    train_classifier(folder.path(), classifier.path());
    let toml = format!(
        "[model]\narchitecture = \"dcgan\"\nimage_size = 8\ng_width = 8\nd_width = 8\n\
         [data]\ndataset = \"image-folder\"\ndir = \"{}\"\nimage_size = 8\n\
         [train]\nbatch_size = 4\nlog_every = 1\neval_every = 2\n\
         [eval]\nclassifier = \"{}\"\nmetrics = [\"pr\", \"fid\"]\nsamples = 12\n",
        folder.path().display(),
        classifier.path().display()
    );
    let runs = tempfile::tempdir().unwrap();
    let scores = |run_dir: &Path, name: &str| -> Vec<(u64, f32)> {
        read_lines(&run_dir.join("metrics.jsonl"))
            .unwrap()
            .iter()
            .filter_map(|l| Some((l.iteration, *l.extra.get(name)?)))
            .collect()
    };
    // Ranked by FID, which falls here at every evaluation: the best moves to the last one,
    // and the earlier best checkpoints are gone.
    let by_fid = run(
        &plan(&toml, &["train.steps=6", "eval.best=\"fid_classifier\""]),
        runs.path(),
        None,
    );
    let fid = scores(&by_fid.run_dir, "fid_classifier");
    assert_eq!(fid.iter().map(|s| s.0).collect::<Vec<_>>(), [2, 4, 6]);
    assert_eq!(
        scores(&by_fid.run_dir, "precision_classifier").len(),
        3,
        "every metric's scores"
    );
    let lowest = fid
        .iter()
        .copied()
        .fold((0, f32::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
    let best = by_fid.best.clone().expect("a best score");
    assert_eq!((best.iteration, best.value as f32), lowest);
    let best_dirs = |run_dir: &Path| -> Vec<String> {
        std::fs::read_dir(run_dir.join("checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("best-"))
            .collect()
    };
    assert_eq!(
        best_dirs(&by_fid.run_dir),
        [format!("best-{:08}", lowest.0)]
    );
    let events: Vec<_> = std::fs::read_dir(by_fid.run_dir.join("tensorboard"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(events.len(), 1, "one TensorBoard event file");
    assert!(std::fs::metadata(&events[0]).unwrap().len() > 1000);
    let curves = image::open(by_fid.run_dir.join("curves.png")).unwrap();
    assert_eq!(curves.height(), 1050, "a third panel for the score");

    // Ranked by precision, the default (the first metric's first score), which is 1 from the
    // first evaluation on: the first stays the best, also across a resume.
    let straight = run(&plan(&toml, &["train.steps=6"]), runs.path(), None);
    let best = straight.best.clone().expect("a best score");
    assert_eq!(
        (best.score.as_str(), best.iteration),
        ("precision_classifier", 2)
    );
    assert_eq!(best_dirs(&straight.run_dir), ["best-00000002"]);
    assert_best_holds_the_scored_weights(&straight.run_dir, classifier.path());
    let first = run(&plan(&toml, &["train.steps=4"]), runs.path(), None);
    let resumed = run(
        &common::resume_plan(&first.run_dir, &["train.steps=6"]),
        runs.path(),
        Some(&first.run_dir),
    );
    let strip = |run_dir: &Path| {
        read_lines(&run_dir.join("metrics.jsonl"))
            .unwrap()
            .into_iter()
            .map(|l: MetricsLine| (l.iteration, l.loss_d, l.loss_g, l.extra))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&resumed.run_dir), strip(&straight.run_dir));
    assert_eq!(resumed.best, straight.best);
    assert_eq!(best_dirs(&resumed.run_dir), ["best-00000002"]);

    assert_report_renders(&straight.run_dir);
    assert_eval_settings_refused(&toml, runs.path());
}

/// `report` writes one page with every section, the scores table and the checkpoints marked
/// `latest` and `best`, and headless Chromium (`chromium`, or `$GANFORGE_CHROMIUM`) decodes
/// every picture in it. Without Chromium the browser check is skipped, except under `CI=true`.
fn assert_report_renders(run_dir: &Path) {
    use ganforge_trainer::report::{SECTIONS, write_report};
    let report = write_report(run_dir, None).unwrap();
    let html = std::fs::read_to_string(&report.path).unwrap();
    for id in SECTIONS {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    assert!(html.contains("<th>fid_classifier</th>") && html.contains("<td>6</td>"));
    assert!(html.contains("<td>best-00000002</td><td>") && html.contains("best</td>"));
    assert!(html.contains("latest</td>"));
    // The curves and the grids of iterations 6 (the last) and, with sample_every's default,
    // none before it.
    assert_eq!(report.pictures, 2);
    let browser = std::env::var("GANFORGE_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!(
            "file://{}",
            report.path.canonicalize().unwrap().display()
        ))
        .output();
    let dom = match out {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipping the browser check: {browser}: {e}");
            return;
        }
        Err(e) => panic!("CI=true needs Chromium for the report check: {browser}: {e}"),
    };
    let rendered = format!("data-rendered=\"{0}/{0}\"", report.pictures);
    assert!(dom.contains(&rendered), "{}", &dom[..dom.len().min(2000)]);
    for id in SECTIONS {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id} not rendered");
    }
}

/// `eval` of `run_dir`'s `checkpoints/best` with the run's scoring seed gives the FID logged
/// at the best iteration: the checkpoint holds the weights that were scored.
fn assert_best_holds_the_scored_weights(run_dir: &Path, classifier: &Path) {
    use ganforge_data::Split;
    use ganforge_trainer::eval::{EvalOptions, Metric, evaluate};
    use ganforge_trainer::metrics_log::read_lines;
    use ganforge_trainer::spec::{SeedStream, derive_seed};
    let pointer = run_dir.join("checkpoints/best");
    let name = std::fs::read_to_string(&pointer).unwrap();
    let iteration: u64 = name.trim().trim_start_matches("best-").parse().unwrap();
    let logged = read_lines(&run_dir.join("metrics.jsonl"))
        .unwrap()
        .into_iter()
        .find(|l| l.iteration == iteration)
        .and_then(|l| l.extra.get("fid_classifier").copied())
        .expect("the best iteration's FID");
    let options = EvalOptions {
        metrics: vec![Metric::Fid],
        samples: 12,
        reference: Split::Train,
        seed: derive_seed(0, SeedStream::Eval),
        weights: Default::default(),
        kid: Default::default(),
    };
    let report = evaluate(
        &pointer,
        &by_classifier(classifier),
        &options,
        &Device::flex(),
    )
    .unwrap();
    assert_eq!(report.scores["fid_classifier"] as f32, logged);
}

/// Scoring settings that cannot work are refused by key: when planned, or (a missing
/// classifier) when the run starts.
fn assert_eval_settings_refused(toml: &str, runs: &Path) {
    use ganforge_backend::BackendKind;
    for (overrides, key) in [
        (
            vec!["train.eval_every=3", "train.log_every=2"],
            "train.eval_every",
        ),
        (vec!["eval.best=\"kid_classifier\""], "eval.best"),
        (vec!["eval.metrics=[\"class-acc\"]"], "eval.metrics"),
        (vec!["eval.samples=3"], "eval.samples"),
        (vec!["eval.extractor=\"inception\""], "eval.classifier"),
        (
            vec!["eval.inception_weights=\"w.pth\""],
            "eval.inception_weights",
        ),
    ] {
        let err = common::try_plan_on(toml, &overrides, BackendKind::Flex)
            .err()
            .unwrap_or_else(|| panic!("{overrides:?} accepted"));
        assert!(err.to_string().contains(key), "{overrides:?}: {err}");
    }
    let without_section = toml.split("[eval]").next().unwrap();
    let err = common::try_plan_on(without_section, &[], BackendKind::Flex)
        .err()
        .unwrap();
    assert!(err.to_string().contains("[eval]"), "{err}");
    let missing = plan(toml, &["eval.classifier=\"/nonexistent/classifier\""]);
    let options = ganforge_trainer::RunOptions {
        runs_root: runs.to_path_buf(),
        resume: None,
        progress: ganforge_trainer::progress::ProgressMode::Quiet,
        config_text: None,
        stop: None,
    };
    let err = ganforge_trainer::run(&missing, &Device::flex(), &options).unwrap_err();
    assert!(
        err.is_bad_input() && err.to_string().contains("/nonexistent/classifier"),
        "{err}"
    );
}

/// Stacked MNIST trains, and its modes are counted by a classifier of its digits during
/// training and by `eval`, with the same numbers; other scores of stacked data, and modes of
/// other data, are refused by key.
#[test]
fn stacked_digits_train_and_their_modes_are_counted() {
    use ganforge_data::Split;
    use ganforge_trainer::DataSpec;
    use ganforge_trainer::classify::{self, ClassifierTraining};
    use ganforge_trainer::eval::{EvalOptions, Metric, evaluate};
    use ganforge_trainer::metrics_log::read_lines;
    use ganforge_trainer::spec::{SeedStream, derive_seed};
    let mnist = tempfile::tempdir().unwrap();
    mnist_fixture(mnist.path(), 40);
    let digits = DataSpec::Idx {
        kind: ganforge_data::IdxKind::Mnist,
        split: Split::Train,
        dir: Some(mnist.path().to_path_buf()),
    };
    let classifier = tempfile::tempdir().unwrap();
    let training = ClassifierTraining {
        data: digits.clone(),
        test_data: Some(digits),
        epochs: 2,
        batch_size: 8,
        lr: 1e-2,
        width: 4,
        seed: 0,
        verbose: false,
    };
    classify::train(&training, &Device::flex(), classifier.path()).unwrap();
    let toml = format!(
        "[model]\narchitecture = \"dcgan\"\nimage_size = 32\nchannels = 3\ng_width = 8\n\
         d_width = 8\n[data]\ndataset = \"stacked-mnist\"\ndir = \"{}\"\nitems = 64\n\
         [train]\nbatch_size = 4\nlog_every = 1\neval_every = 2\nsteps = 2\n\
         [eval]\nclassifier = \"{}\"\nmetrics = [\"modes\"]\nsamples = 30\n",
        mnist.path().display(),
        classifier.path().display()
    );
    let runs = tempfile::tempdir().unwrap();
    let summary = run(&plan(&toml, &[]), runs.path(), None);
    let lines = read_lines(&summary.run_dir.join("metrics.jsonl")).unwrap();
    let scores = &lines.last().unwrap().extra;
    let (modes, kl) = (scores["modes_classifier"], scores["modes_kl_classifier"]);
    assert!((1.0..=30.0).contains(&modes), "{scores:?}");
    assert!((0.0..=1000f32.ln() + 1e-4).contains(&kl), "{scores:?}");
    assert_eq!(
        summary.best.as_ref().map(|b| b.score.as_str()),
        Some("modes_classifier")
    );
    let options = EvalOptions {
        metrics: vec![Metric::Modes],
        samples: 30,
        reference: Split::Train,
        seed: derive_seed(0, SeedStream::Eval),
        weights: Default::default(),
        kid: Default::default(),
    };
    let report = evaluate(
        &summary.run_dir,
        &by_classifier(classifier.path()),
        &options,
        &Device::flex(),
    )
    .unwrap();
    assert_eq!(report.scores["modes_classifier"] as f32, modes);
    assert_eq!(report.scores["modes_kl_classifier"] as f32, kl);
    let fid = EvalOptions {
        metrics: vec![Metric::Fid, Metric::Modes],
        ..options
    };
    let err = evaluate(
        &summary.run_dir,
        &by_classifier(classifier.path()),
        &fid,
        &Device::flex(),
    )
    .unwrap_err();
    assert!(
        err.is_bad_input() && err.to_string().contains("--metrics"),
        "{err}"
    );

    let err = common::try_plan_on(
        &toml,
        &["eval.metrics=[\"modes\", \"fid\"]"],
        ganforge_backend::BackendKind::Flex,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("eval.metrics"), "{err}");
    let plain = toml
        .replace("stacked-mnist", "mnist")
        .replace("items = 64\n", "")
        .replace(
            "image_size = 32\nchannels = 3\n",
            "image_size = 28\nchannels = 1\n",
        )
        .replace("\"dcgan\"", "\"mlp-mnist\"")
        .replace("g_width = 8\nd_width = 8\n", "");
    let err = common::try_plan_on(&plain, &[], ganforge_backend::BackendKind::Flex)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("eval.metrics") && err.to_string().contains("stacked"),
        "{err}"
    );
}
