//! Scoring in the FID Inception-v3's features (and its classes for the Inception Score):
//! `eval` names the scores `..._inception`, caches the reference features per extractor, and
//! refuses a weight file that is not the published one, metrics that need a dataset
//! classifier and a missing file, by name with exit 2.
//!
//! The scores are computed in the random pytorch-fid network of the parity fixture
//! (`GANFORGE_INCEPTION_FIXTURE`, written by `cargo xtask test`); without it the library test
//! is skipped, except under `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use common::{assert_bad_input, ganforge, plan, run};
use ganforge_backend::BackendKind;
use ganforge_data::Split;
use ganforge_trainer::eval::{EvalOptions, ExtractorKind, ExtractorSpec, Metric, evaluate};
use ganforge_trainer::inception::{InceptionWeights, WEIGHTS_FILE};
use ganforge_trainer::metrics_log::read_lines;

fn fixture_weights() -> Option<PathBuf> {
    match std::env::var_os("GANFORGE_INCEPTION_FIXTURE") {
        Some(dir) => Some(PathBuf::from(dir).join("weights.pth")),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("GANFORGE_INCEPTION_FIXTURE must name the pytorch-fid fixture under CI=true")
        }
        None => None,
    }
}

/// Eight RGB pictures of 8x8 in one folder.
fn pictures(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..8u8 {
        let img = image::RgbImage::from_fn(8, 8, |x, y| {
            image::Rgb([i * 30, x as u8 * 30, y as u8 * 30])
        });
        img.save(dir.join(format!("{i}.png"))).unwrap();
    }
}

/// A one-step DCGAN run on `folder`, under `runs`.
fn tiny_run(folder: &Path, runs: &Path) -> PathBuf {
    let toml = format!(
        "[model]\narchitecture = \"dcgan\"\nimage_size = 8\ng_width = 8\nd_width = 8\n\
         [data]\ndataset = \"image-folder\"\ndir = \"{}\"\nimage_size = 8\n",
        folder.display()
    );
    run(
        &plan(&toml, &["train.steps=1", "train.batch_size=4"]),
        runs,
        None,
    )
    .run_dir
}

/// `[eval] extractor = "inception"` plans with the Inception's score names and refuses what
/// the network cannot compute; a run whose weights cannot be read stops before training.
#[test]
fn a_run_can_score_itself_in_inception_features() {
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("pictures");
    pictures(&folder);
    let toml = format!(
        "[model]\narchitecture = \"dcgan\"\nimage_size = 8\ng_width = 8\nd_width = 8\n\
         [data]\ndataset = \"image-folder\"\ndir = \"{}\"\nimage_size = 8\n\
         [train]\nsteps = 2\nbatch_size = 4\nlog_every = 1\neval_every = 1\n\
         [eval]\nextractor = \"inception\"\nsamples = 8\n",
        folder.display()
    );
    let planned = plan(&toml, &[]);
    let eval = planned.eval.as_ref().unwrap();
    assert_eq!(eval.best, "fid_inception");
    assert_eq!(eval.extractor, ExtractorKind::Inception);
    let err = common::try_plan_on(&toml, &["eval.metrics=[\"class-acc\"]"], BackendKind::Flex)
        .err()
        .unwrap();
    assert!(err.to_string().contains("eval.metrics"), "{err}");
    let unset = toml.replace("extractor = \"inception\"\n", "");
    let err = common::try_plan_on(&unset, &[], BackendKind::Flex)
        .err()
        .unwrap();
    assert!(err.to_string().contains("eval.classifier"), "{err}");

    let missing = work.path().join("no-such-weights.pth");
    let weights = format!("eval.inception_weights=\"{}\"", missing.display());
    let options = ganforge_trainer::RunOptions {
        runs_root: work.path().join("runs"),
        resume: None,
        progress: ganforge_trainer::progress::ProgressMode::Quiet,
        config_text: None,
        stop: None,
    };
    let err =
        ganforge_trainer::run(&plan(&toml, &[&weights]), &Device::flex(), &options).unwrap_err();
    assert!(
        err.is_bad_input() && err.to_string().contains("no-such-weights.pth"),
        "{err}"
    );

    // In the fixture's network (other weights, asked for through the library), the run
    // scores itself at every iteration and keeps its best checkpoint by fid_inception.
    let Some(fixture) = fixture_weights() else {
        eprintln!("skipped the run's scores: GANFORGE_INCEPTION_FIXTURE is not set");
        return;
    };
    let mut planned = plan(&toml, &[]);
    if let Some(eval) = planned.spec.eval.as_mut() {
        eval.inception_weights = Some(InceptionWeights::Unverified(fixture));
    }
    let summary = ganforge_trainer::run(&planned, &Device::flex(), &options).unwrap();
    let lines = read_lines(&summary.run_dir.join("metrics.jsonl")).unwrap();
    let scored: Vec<f32> = lines
        .iter()
        .filter_map(|l| l.extra.get("fid_inception").copied())
        .collect();
    assert_eq!(scored.len(), 2, "{lines:?}");
    assert!(scored.iter().all(|f| f.is_finite() && *f > 0.0));
    assert!(summary.run_dir.join("checkpoints/best").is_file());
}

#[test]
fn eval_scores_in_inception_features() {
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("pictures");
    pictures(&folder);
    let run_dir = tiny_run(&folder, &work.path().join("runs"));
    let checkpoint = run_dir.display().to_string();

    // Refused before any weights are read: classes the network does not have.
    let out = ganforge(
        &[
            "eval",
            "--checkpoint",
            &checkpoint,
            "--extractor",
            "inception",
            "--metrics",
            "fid,class-acc",
        ],
        work.path(),
    );
    assert_bad_input(&out, &["--metrics", "class-acc", "classifier's classes"]);
    // Offline with no weights anywhere: not found, with where it looked.
    let out = ganforge(
        &[
            "eval",
            "--checkpoint",
            &checkpoint,
            "--extractor",
            "inception",
        ],
        work.path(),
    );
    assert_bad_input(&out, &[WEIGHTS_FILE]);

    let Some(weights) = fixture_weights() else {
        eprintln!("skipped the scores: GANFORGE_INCEPTION_FIXTURE is not set");
        return;
    };
    // A state dict with the right keys but not the published weights.
    let out = ganforge(
        &[
            "eval",
            "--checkpoint",
            &checkpoint,
            "--extractor",
            "inception",
            "--inception-weights",
            &weights.display().to_string(),
            "--metrics",
            "pr",
            "--n",
            "8",
        ],
        work.path(),
    );
    assert_bad_input(&out, &["--inception-weights", "SHA-256"]);

    // The library accepts other weights when asked to, and names the scores after them; their
    // reference statistics are cached beside them.
    let own = work.path().join("own/weights.pth");
    std::fs::create_dir_all(own.parent().unwrap()).unwrap();
    std::fs::copy(&weights, &own).unwrap();
    let weights = own;
    let extractor = ExtractorSpec::Inception(InceptionWeights::Unverified(weights));
    let options = EvalOptions {
        metrics: vec![Metric::Fid, Metric::PrecisionRecall, Metric::InceptionScore],
        samples: 8,
        reference: Split::Train,
        seed: 1,
        weights: Default::default(),
        kid: Default::default(),
    };
    let device = Device::flex();
    let report = evaluate(&run_dir, &extractor, &options, &device).unwrap();
    assert_eq!(report.extractor, ExtractorKind::Inception);
    assert_eq!(
        report.scores.keys().collect::<Vec<_>>(),
        [
            "fid_inception",
            "is_inception",
            "is_inception_std",
            "precision_inception",
            "recall_inception"
        ]
    );
    assert!(report.scores["fid_inception"] > 0.0);
    // The Inception Score over Inception's 1008 classes: at least 1, at most 1008.
    assert!((1.0..=1008.0).contains(&report.scores["is_inception"]));
    assert_eq!(report.inception_sha256.as_ref().map(String::len), Some(64));
    // The reference features come from the cache the second time, with the same scores.
    let again = evaluate(&run_dir, &extractor, &options, &device).unwrap();
    assert!(!report.reference_cached && again.reference_cached);
    assert_eq!(again.scores, report.scores);
    assert!(work.path().join("own/reference").is_dir());
}
