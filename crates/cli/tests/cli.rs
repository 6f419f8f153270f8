//! Bad input to the `ganforge` binary: a clear message naming the problem and exit code 2,
//! never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

mod common;

use common::{assert_bad_input, assert_success, ganforge};
use ganforge_backend::BackendKind;
use ganforge_data::{IdxKind, Split, write_idx_fixture};

/// Writes `n` MNIST-shaped training images (a bar whose column encodes the label) into `dir`.
fn mnist_fixture(dir: &Path, n: usize) {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let images: Vec<Vec<u8>> = labels
        .iter()
        .map(|&label| {
            let mut img = vec![0u8; 28 * 28];
            for r in 4..24 {
                img[r * 28 + 4 + 2 * label as usize] = 255;
            }
            img
        })
        .collect();
    let names = IdxKind::Mnist.file_names(Split::Train);
    write_idx_fixture(dir, names, &images, 28, 28, &labels).expect("write fixture");
}

/// The one run directory under `runs`.
fn only_run(runs: &Path) -> std::path::PathBuf {
    let mut dirs = std::fs::read_dir(runs).unwrap();
    let run = dirs.next().unwrap().unwrap().path();
    assert!(
        dirs.next().is_none(),
        "more than one run under {}",
        runs.display()
    );
    run
}

fn write_config(dir: &Path, body: &str) -> String {
    let path = dir.join("test.toml");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

const DCGAN_MNIST: &str = "[model]\narchitecture = \"dcgan-mnist\"\n[data]\ndataset = \"mnist\"\n";

#[test]
fn unknown_config_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!("{DCGAN_MNIST}[train]\nbatch_sise = 32\n"),
    );
    assert_bad_input(
        &ganforge(&["train", "--config", &cfg, "--dry-run"], dir.path()),
        &["batch_sise", "train"],
    );
    let out = ganforge(
        &[
            "train",
            "--config",
            &cfg.replace("test.toml", "none.toml"),
            "--dry-run",
        ],
        dir.path(),
    );
    assert_bad_input(&out, &["none.toml"]);
}

#[test]
fn wrong_type_and_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), DCGAN_MNIST);
    let out = ganforge(
        &[
            "train",
            "--config",
            &cfg,
            "--set",
            "train.batch_size=lots",
            "--dry-run",
        ],
        dir.path(),
    );
    assert_bad_input(&out, &["train.batch_size", "lots"]);
    let out = ganforge(
        &[
            "train",
            "--config",
            &cfg,
            "--set",
            "optimizer.generator.lr=0",
            "--dry-run",
        ],
        dir.path(),
    );
    assert_bad_input(&out, &["optimizer.generator.lr"]);
    let cfg = write_config(dir.path(), "[model\narchitecture = 1");
    assert_bad_input(
        &ganforge(&["train", "--config", &cfg], dir.path()),
        &["invalid TOML"],
    );
}

#[test]
fn missing_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), DCGAN_MNIST);
    let out = ganforge(
        &[
            "train",
            "--config",
            &cfg,
            "--data",
            "/no/such/mnist",
            "--set",
            "train.steps=1",
        ],
        dir.path(),
    );
    assert_bad_input(&out, &["/no/such/mnist", "does not exist"]);
    // Nothing local and downloads off: the message says where it looked and how to fix it.
    let out = ganforge(
        &["train", "--config", &cfg, "--set", "train.steps=1"],
        dir.path(),
    );
    assert_bad_input(&out, &["mnist not found", "GANFORGE_DATA", "--data"]);
}

#[test]
fn truncated_or_corrupt_idx_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    mnist_fixture(&data, 16);
    let cfg = write_config(dir.path(), DCGAN_MNIST);
    let images = data.join("train-images-idx3-ubyte");
    let bytes = std::fs::read(&images).unwrap();
    std::fs::write(&images, &bytes[..bytes.len() - 100]).unwrap();
    let data_arg = data.display().to_string();
    let out = ganforge(
        &[
            "train",
            "--config",
            &cfg,
            "--data",
            &data_arg,
            "--set",
            "train.steps=1",
        ],
        dir.path(),
    );
    assert_bad_input(&out, &["train-images-idx3-ubyte", "truncated"]);

    std::fs::write(&images, b"\x00\x00\x08\x01garbage-garbage").unwrap();
    let out = ganforge(
        &[
            "train",
            "--config",
            &cfg,
            "--data",
            &data_arg,
            "--set",
            "train.steps=1",
        ],
        dir.path(),
    );
    assert_bad_input(&out, &["not an IDX image file"]);
}

#[test]
fn image_size_the_architecture_cannot_produce() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), DCGAN_MNIST);
    // dcgan-mnist needs a multiple of 4.
    let out = ganforge(
        &[
            "train",
            "--config",
            &cfg,
            "--set",
            "model.image_size=30",
            "--dry-run",
        ],
        dir.path(),
    );
    assert_bad_input(&out, &["model.image_size"]);
    // dcgan needs a power of two; the folder gives 48x48 pictures.
    let cfg = write_config(
        dir.path(),
        "[model]\narchitecture = \"dcgan\"\nimage_size = 48\n[data]\ndataset = \"image-folder\"\ndir = \".\"\nimage_size = 48\n",
    );
    let out = ganforge(&["train", "--config", &cfg, "--dry-run"], dir.path());
    assert_bad_input(&out, &["image_size = 48", "power of two"]);
}

#[test]
fn unknown_or_missing_backend() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), DCGAN_MNIST);
    let out = ganforge(
        &["train", "--config", &cfg, "--backend", "cuda", "--dry-run"],
        dir.path(),
    );
    assert_bad_input(&out, &["unknown backend `cuda`", "tch-cuda"]);
    for kind in BackendKind::ALL.into_iter().filter(|k| !k.is_compiled()) {
        let out = ganforge(
            &[
                "train",
                "--config",
                &cfg,
                "--backend",
                kind.name(),
                "--dry-run",
            ],
            dir.path(),
        );
        assert_bad_input(
            &out,
            &[kind.name(), &format!("cargo feature `{}`", kind.feature())],
        );
    }
}

#[test]
fn dry_run_prints_the_resolved_plan() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), DCGAN_MNIST);
    let out = ganforge(
        &["train", "--config", &cfg, "--dry-run", "--seed", "5"],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_success(&out);
    assert!(
        stdout.contains("seed = 5") && stdout.contains("backend = \"flex\""),
        "{stdout}"
    );
    assert!(stdout.contains("g_width = 256"), "{stdout}");
}

#[test]
fn bad_resume_and_checkpoint_paths() {
    let dir = tempfile::tempdir().unwrap();
    let out = ganforge(&["train", "--resume", "/no/such/run"], dir.path());
    assert_bad_input(&out, &["/no/such/run", "not a run directory"]);
    let out = ganforge(
        &["generate", "--checkpoint", "/no/such/ckpt", "--out", "x"],
        dir.path(),
    );
    assert_bad_input(&out, &["/no/such/ckpt", "does not exist"]);
    // A checkpoint file that is not a burnpack record.
    let ckpt = dir.path().join("ckpt");
    std::fs::create_dir_all(&ckpt).unwrap();
    std::fs::write(ckpt.join("generator.bpk"), b"not a record").unwrap();
    let mut config = ganforge_cli::RawConfig::parse(DCGAN_MNIST, &[]).unwrap();
    let backend = ganforge_cli::validate::resolve(&mut config, None, None).unwrap();
    let spec = ganforge_cli::validate::run_spec(&config, backend).unwrap();
    std::fs::write(ckpt.join("spec.json"), serde_json::to_vec(&spec).unwrap()).unwrap();
    let out = ganforge(
        &[
            "generate",
            "--checkpoint",
            &ckpt.display().to_string(),
            "--out",
            "x",
        ],
        dir.path(),
    );
    assert_bad_input(&out, &["generator.bpk"]);
}

/// `eval` names a metric it does not know, an empty list, a sample count too small for its
/// statistics, and a classifier directory that is not one, each with exit code 2.
#[test]
fn eval_refuses_bad_requests_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--checkpoint",
            "/no/run",
            "--classifier",
            "/no/classifier",
        ];
        args.extend_from_slice(extra);
        ganforge(&args, dir.path())
    };
    assert_bad_input(
        &eval(&["--metrics", "fid,nope"]),
        &["nope", "fid, kid, pr, dc, is, class-acc"],
    );
    assert_bad_input(&eval(&["--metrics", ","]), &["--metrics", "at least one"]);
    assert_bad_input(&eval(&["--n", "3"]), &["--n", "at least 6"]);
    assert_bad_input(&eval(&[]), &["/no/classifier"]);
}

#[test]
fn unknown_class_and_conditioning_without_labels() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    mnist_fixture(&data, 16);
    let cfg = write_config(
        dir.path(),
        "[model]\narchitecture = \"mlp-mnist\"\ng_hidden = [8]\nd_hidden = [8]\n\
         conditioning = \"concat\"\n[data]\ndataset = \"mnist\"\n\
         [train]\nsteps = 1\nbatch_size = 4\n",
    );
    let data_arg = data.display().to_string();
    let out = ganforge(
        &[
            "train", "--config", &cfg, "--data", &data_arg, "--out", "runs", "--plain",
        ],
        dir.path(),
    );
    assert_success(&out);
    let run = only_run(&dir.path().join("runs"));
    let run = run.display().to_string();
    assert_bad_input(
        &ganforge(
            &[
                "generate",
                "--checkpoint",
                &run,
                "--class",
                "dog",
                "--out",
                "s",
            ],
            dir.path(),
        ),
        &["--class", "dog", "valid", "0, 1, 2, 3"],
    );
    let ok = ganforge(
        &[
            "generate",
            "--checkpoint",
            &run,
            "--class",
            "all",
            "--count",
            "2",
            "--out",
            "s",
        ],
        dir.path(),
    );
    assert_success(&ok);

    let flat = dir.path().join("flat");
    std::fs::create_dir_all(&flat).unwrap();
    image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]))
        .save(flat.join("a.png"))
        .unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[model]\narchitecture = \"dcgan\"\nimage_size = 8\nconditioning = \"acgan\"\n\
             [data]\ndataset = \"image-folder\"\ndir = \"{}\"\nimage_size = 8\n",
            flat.display()
        ),
    );
    assert_bad_input(
        &ganforge(&["train", "--config", &cfg, "--dry-run"], dir.path()),
        &["model.conditioning", "labels"],
    );
}

const TOY: &str = "[model]\narchitecture = \"toy-mlp\"\nwidth = 8\ndepth = 1\n\
    [data]\ndataset = \"toy-ring8\"\nsamples = 64\n\
    [train]\nsteps = 14\nbatch_size = 16\ncheckpoint_every = 7\nsample_every = 100\n";

/// A checkpoint that cannot be written (here its temporary directory's name is taken by a
/// file, as a full disk or a read-only directory would fail the same write) stops the run with
/// exit code 1 and the path, and the previous checkpoint stays the latest and loads.
#[test]
fn a_failed_checkpoint_write_keeps_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), TOY);
    let out = ganforge(
        &["train", "--config", &cfg, "--out", "runs", "--plain"],
        dir.path(),
    );
    assert_success(&out);
    let run = only_run(&dir.path().join("runs"));
    let checkpoints = run.join("checkpoints");
    std::fs::write(checkpoints.join(".partial-step-00000021"), b"in the way").unwrap();
    let run_arg = run.display().to_string();
    let out = ganforge(
        &[
            "train",
            "--resume",
            &run_arg,
            "--set",
            "train.steps=21",
            "--plain",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(".partial-step-00000021"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let latest = std::fs::read_to_string(checkpoints.join("latest")).unwrap();
    assert_eq!(latest.trim(), "step-00000014");
    let out = ganforge(
        &[
            "generate",
            "--checkpoint",
            &run_arg,
            "--count",
            "4",
            "--out",
            "samples",
        ],
        dir.path(),
    );
    assert_success(&out);
}

/// An output directory that cannot be created is a failed write (exit code 1) that names it.
#[test]
fn an_output_directory_that_cannot_be_made() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), TOY);
    std::fs::write(dir.path().join("afile"), b"not a directory").unwrap();
    let out = ganforge(
        &["train", "--config", &cfg, "--out", "afile/runs", "--plain"],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("afile/runs"), "{stderr}");
}

/// `ganforge train --config cfg --set set` into `dir/runs`.
fn train_with(dir: &Path, cfg: &str, set: &str) -> Output {
    ganforge(
        &[
            "train", "--config", cfg, "--set", set, "--out", "runs", "--plain",
        ],
        dir,
    )
}

/// `[ema]` keeps a moving average of the generator, which `generate` samples unless told
/// `--no-ema`; an impossible decay is refused by its key.
#[test]
fn the_moving_average_is_sampled_unless_no_ema() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), TOY);
    let train = |set: &str| train_with(dir.path(), &cfg, set);
    assert_bad_input(&train("ema.beta=1.5"), &["ema.beta", "1.5"]);
    let out = train("ema.beta=0.9");
    assert_success(&out);
    let run = only_run(&dir.path().join("runs"));
    let resolved = std::fs::read_to_string(run.join("resolved.toml")).unwrap();
    assert!(
        resolved.contains("[ema]") && resolved.contains("beta = 0.9"),
        "{resolved}"
    );
    let run = run.display().to_string();
    let points = |extra: &[&str], out: &str| {
        let mut args = vec![
            "generate",
            "--checkpoint",
            &run,
            "--count",
            "16",
            "--out",
            out,
        ];
        args.extend(extra);
        let done = ganforge(&args, dir.path());
        assert_success(&done);
        std::fs::read_to_string(dir.path().join(out).join("points.csv")).unwrap()
    };
    assert_ne!(points(&[], "average"), points(&["--no-ema"], "trained"));
}

/// `model.pack` (PacGAN) trains with whole packs per batch; a batch that does not divide into
/// packs is refused by its key.
#[test]
fn packing_needs_whole_packs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), TOY);
    let train = |set: &str| train_with(dir.path(), &cfg, set);
    assert_bad_input(
        &train("model.pack=3"),
        &["train.batch_size", "model.pack = 3"],
    );
    let out = train("model.pack=4");
    assert_success(&out);
}

/// `ganforge bench --regulariser` names the valid regularisers for an unknown one, and refuses
/// a penalty on a discriminator with batch normalisation and a regulariser with `--generate`.
#[test]
fn bench_regularisers_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let bench = |args: &[&str]| {
        let mut all = vec!["bench", "--iters", "1", "--warmup", "0"];
        all.extend_from_slice(args);
        ganforge(&all, dir.path())
    };
    assert_bad_input(
        &bench(&["--model", "dcgan-mnist", "--regulariser", "dropout"]),
        &["--regulariser", "dropout", "wgan-gp", "diffaugment"],
    );
    assert_bad_input(
        &bench(&["--model", "dcgan32", "--regulariser", "r1"]),
        &["--regulariser", "batch normalisation"],
    );
    let out = bench(&[
        "--model",
        "dcgan-mnist",
        "--regulariser",
        "ema",
        "--generate",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
