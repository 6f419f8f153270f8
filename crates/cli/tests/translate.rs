//! pix2pix from TOML: a few steps train, resume exactly, draw grids; `ganforge translate`
//! translates pictures and scores held-out pairs; bad requests exit with code 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{
    assert_bad_input, assert_resumes_exactly, assert_success, ganforge, mnist_fixture, save_grey,
    try_plan_on,
};
use ganforge_backend::BackendKind;

/// A small pix2pix on the MNIST fixture in `data`: edges -> digit on 32x32 canvases.
fn pix2pix_toml(data: &Path) -> String {
    format!(
        "name = \"edges\"\n\
         [model]\narchitecture = \"pix2pix\"\nimage_size = 32\ng_width = 4\nd_width = 4\n\
         [data]\ndataset = \"mnist\"\ndir = \"{}\"\n\
         [pairs]\ntask = \"edges\"\npad_to = 32\n\
         [train]\nsteps = 4\nbatch_size = 4\nlog_every = 1\nsample_every = 2\n\
         checkpoint_every = 2\nsample_count = 4\n",
        data.display()
    )
}

#[test]
fn pix2pix_trains_resumes_exactly_and_translates() {
    let tmp = tempfile::tempdir().unwrap();
    let data = mnist_fixture(&tmp.path().join("mnist"), 16);
    let toml = pix2pix_toml(&data);
    let straight = assert_resumes_exactly(&toml, &tmp.path().join("runs"), "pix2pix");
    let metrics = std::fs::read_to_string(straight.run_dir.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"l1\""), "{metrics}");
    let grid = image::open(straight.run_dir.join("samples/step-00000004.png")).unwrap();
    assert!(grid.width() > 3 * 32 && grid.height() >= 32);

    // Pictures of any size are resized to the generator's; one PNG each, named after them.
    let pictures = tmp.path().join("drawings");
    save_grey(&pictures.join("a.png"), 32, 32, |x, _| {
        if x == 16 { 0 } else { 255 }
    });
    save_grey(&pictures.join("more/b.png"), 40, 20, |_, y| (y * 10) as u8);
    let out = tmp.path().join("translated");
    let run_dir = straight.run_dir.to_str().unwrap();
    let args = ["translate", "--checkpoint", run_dir, "--input"];
    let done = ganforge(
        &[
            &args[..],
            &[pictures.to_str().unwrap(), "--out", out.to_str().unwrap()],
        ]
        .concat(),
        tmp.path(),
    );
    assert_success(&done);
    for name in ["a.png", "more/b.png"] {
        let translated = image::open(out.join(name)).unwrap();
        assert_eq!(
            (translated.width(), translated.height()),
            (32, 32),
            "{name}"
        );
    }

    // Held-out pairs in the aligned format: source left, target right.
    let held_out = tmp.path().join("held-out");
    for i in 0..3u32 {
        save_grey(&held_out.join(format!("{i}.png")), 64, 32, move |x, y| {
            if x < 32 {
                255 - (x * 8) as u8
            } else {
                ((y + i) * 7) as u8
            }
        });
    }
    let report_dir = tmp.path().join("report");
    let scored = ganforge(
        &[
            "translate",
            "--checkpoint",
            run_dir,
            "--report",
            "--pairs",
            held_out.to_str().unwrap(),
            "--out",
            report_dir.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_success(&scored);
    let line: serde_json::Value = serde_json::from_slice(&scored.stdout).unwrap();
    assert_eq!(line["pairs"], 3);
    for key in ["l1", "psnr_db", "ssim"] {
        assert!(
            line[key].as_f64().is_some_and(f64::is_finite),
            "{key}: {line}"
        );
    }
    assert!(report_dir.join("report.json").is_file());
    assert!(report_dir.join("pairs.png").is_file());

    // Bad requests name the problem.
    let missing = ganforge(
        &[&args[..], &["nowhere", "--out", "x"]].concat(),
        tmp.path(),
    );
    assert_bad_input(&missing, &["--input", "does not exist"]);
    let generate = ganforge(
        &["generate", "--checkpoint", run_dir, "--out", "x"],
        tmp.path(),
    );
    assert_bad_input(&generate, &["ganforge translate"]);
    let a = pictures.join("a.png");
    let inpaint = ganforge(
        &[
            "inpaint",
            "--checkpoint",
            run_dir,
            "--image",
            a.to_str().unwrap(),
            "--mask",
            a.to_str().unwrap(),
            "--out",
            "x.png",
        ],
        tmp.path(),
    );
    assert_bad_input(&inpaint, &["ganforge translate"]);
    let none = ganforge(
        &[
            "translate",
            "--checkpoint",
            run_dir,
            "--report",
            "--count",
            "0",
            "--out",
            "x",
        ],
        tmp.path(),
    );
    assert_bad_input(&none, &["--count"]);
    let no_split = ganforge(
        &[
            "translate",
            "--checkpoint",
            run_dir,
            "--report",
            "--out",
            "x",
        ],
        tmp.path(),
    );
    assert_bad_input(&no_split, &["t10k"]);
}

#[test]
fn impossible_pix2pix_settings_name_their_key() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = pix2pix_toml(&mnist_fixture(tmp.path(), 4));
    let unpaired = toml.replace("[pairs]\ntask = \"edges\"\npad_to = 32\n", "");
    for (text, set, key) in [
        (unpaired.as_str(), "", "data.pairs"),
        (toml.as_str(), "model.image_size=28", "model.image_size"),
        (toml.as_str(), "loss.l1_weight=-1", "loss.l1_weight"),
        (toml.as_str(), "loss.penalty=\"r1\"", "loss.penalty"),
        (
            toml.as_str(),
            "model.conditioning=\"concat\"",
            "conditioning",
        ),
        (toml.as_str(), "pairs.task=\"colorize\"", "RGB"),
    ] {
        let sets: Vec<&str> = [set].into_iter().filter(|s| !s.is_empty()).collect();
        let err = match try_plan_on(text, &sets, BackendKind::Flex) {
            Ok(plan) => {
                // Some problems show only when the data is opened or the networks are built.
                let device = burn::prelude::Device::flex();
                let built = ganforge_trainer::objective::Gan::new(
                    &plan.gan_spec(),
                    &device,
                    plan.init_seeds(),
                );
                match (built, plan.data.open(0)) {
                    (Err(e), _) => e.to_string(),
                    (_, Err(e)) => e.to_string(),
                    _ => panic!("{set} was accepted"),
                }
            }
            Err(e) => e.to_string(),
        };
        assert!(err.contains(key), "{set}: {err}");
    }
    let dcgan = "[model]\narchitecture = \"dcgan-mnist\"\n[data]\ndataset = \"mnist\"\n";
    let err = try_plan_on(dcgan, &["loss.l1_weight=10"], BackendKind::Flex).unwrap_err();
    assert!(err.to_string().contains("loss.l1_weight"), "{err}");
}
