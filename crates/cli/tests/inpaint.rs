//! Inpainting from TOML: a few steps on masked digits train and resume exactly; `ganforge
//! inpaint` fills the holes of pictures (one, or a directory) and gives the known pixels back
//! unchanged, scores held-out holes against the mean-colour baseline; bad requests exit 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{
    assert_bad_input, assert_resumes_exactly, assert_success, ganforge, mnist_fixture, plan,
    save_grey,
};
use ganforge_data::{IdxKind, Split};

/// A small inpainter on the MNIST fixture in `data`: rectangles of up to 12 pixels.
fn inpaint_toml(data: &Path) -> String {
    format!(
        "name = \"holes\"\n\
         [model]\narchitecture = \"pix2pix\"\nimage_size = 32\ng_width = 4\nd_width = 4\n\
         [data]\ndataset = \"mnist\"\ndir = \"{}\"\n\
         [pairs]\ntask = \"masked\"\nhole = 12\nmask = \"rectangle\"\npad_to = 32\n\
         [train]\nsteps = 4\nbatch_size = 4\nlog_every = 1\nsample_every = 2\n\
         checkpoint_every = 2\nsample_count = 4\n",
        data.display()
    )
}

fn picture(x: u32, y: u32) -> u8 {
    ((x * 7 + y * 3) % 256) as u8
}

/// A white square of side 10 at (8, 12) on black.
fn square(x: u32, y: u32) -> u8 {
    if (8..18).contains(&x) && (12..22).contains(&y) {
        255
    } else {
        0
    }
}

/// Asserts that every pixel of the filled picture at `out` outside the square hole is the
/// input picture's, bit for bit, and that the hole was filled by the network.
fn assert_known_pixels_kept(out: &Path) {
    let filled = image::open(out).unwrap().to_luma8();
    assert_eq!(filled.dimensions(), (32, 32));
    for (x, y, value) in filled.enumerate_pixels() {
        if square(x, y) == 0 {
            assert_eq!(value.0[0], picture(x, y), "known pixel ({x}, {y}) changed");
        }
    }
}

#[test]
fn inpainter_trains_resumes_and_fills_holes_keeping_known_pixels() {
    let tmp = tempfile::tempdir().unwrap();
    let data = mnist_fixture(&tmp.path().join("mnist"), 16);
    let toml = inpaint_toml(&data);
    let straight = assert_resumes_exactly(&toml, &tmp.path().join("runs"), "inpainting");
    let run_dir = straight.run_dir.to_str().unwrap();

    // One picture and its mask.
    save_grey(&tmp.path().join("in/a.png"), 32, 32, picture);
    save_grey(&tmp.path().join("in/deeper/b.png"), 32, 32, picture);
    save_grey(&tmp.path().join("masks/a.png"), 32, 32, square);
    save_grey(&tmp.path().join("masks/deeper/b.png"), 32, 32, square);
    let one = tmp.path().join("filled.png");
    let done = ganforge(
        &[
            "inpaint",
            "--checkpoint",
            run_dir,
            "--image",
            "in/a.png",
            "--mask",
            "masks/a.png",
            "--out",
            one.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_success(&done);
    assert_known_pixels_kept(&one);

    // A directory of pictures with a directory of masks of the same names.
    let dir_args = ["inpaint", "--checkpoint", run_dir, "--image", "in"];
    let done = ganforge(
        &[&dir_args[..], &["--mask", "masks", "--out", "filled"]].concat(),
        tmp.path(),
    );
    assert_success(&done);
    for name in ["a.png", "deeper/b.png"] {
        assert_known_pixels_kept(&tmp.path().join("filled").join(name));
    }

    // Held-out pictures: scores inside the hole, beside the mean-colour baseline.
    for (train, test) in IdxKind::Mnist
        .file_names(Split::Train)
        .into_iter()
        .zip(IdxKind::Mnist.file_names(Split::Test))
    {
        std::fs::copy(data.join(train), data.join(test)).unwrap();
    }
    let scored = ganforge(
        &[
            "inpaint",
            "--checkpoint",
            run_dir,
            "--report",
            "--count",
            "8",
            "--out",
            "report",
        ],
        tmp.path(),
    );
    assert_success(&scored);
    let line: serde_json::Value = serde_json::from_slice(&scored.stdout).unwrap();
    assert_eq!(line["region"], "hole");
    assert_eq!(line["pairs"], 8);
    for key in ["l1", "psnr_db", "ssim"] {
        assert!(line[key].as_f64().is_some_and(f64::is_finite), "{line}");
        let baseline = &line["mean_fill"][key];
        assert!(baseline.as_f64().is_some_and(f64::is_finite), "{line}");
    }
    assert!(tmp.path().join("report/pairs.png").is_file());
    let own = ganforge(
        &[
            "inpaint",
            "--checkpoint",
            run_dir,
            "--report",
            "--held-out",
            "in",
            "--out",
            "report-own",
        ],
        tmp.path(),
    );
    assert_success(&own);
    let line: serde_json::Value = serde_json::from_slice(&own.stdout).unwrap();
    assert_eq!(line["pairs"], 2, "{line}");

    // Bad requests name the problem.
    save_grey(&tmp.path().join("masks/small.png"), 16, 16, square);
    save_grey(&tmp.path().join("masks/blank.png"), 32, 32, |_, _| 0);
    let single = ["inpaint", "--checkpoint", run_dir, "--image", "in/a.png"];
    for (mask, needles) in [
        ("masks/small.png", &["--mask", "16x16", "32x32"][..]),
        ("masks/blank.png", &["no hole"][..]),
        ("masks/none.png", &["--mask", "does not exist"][..]),
        ("masks", &["--mask", "directory"][..]),
    ] {
        let out = ganforge(
            &[&single[..], &["--mask", mask, "--out", "x.png"]].concat(),
            tmp.path(),
        );
        assert_bad_input(&out, needles);
    }
    std::fs::remove_file(tmp.path().join("masks/deeper/b.png")).unwrap();
    let unmatched = ganforge(
        &[&dir_args[..], &["--mask", "masks", "--out", "again"]].concat(),
        tmp.path(),
    );
    assert_bad_input(&unmatched, &["no mask for", "b"]);
    let translate = ganforge(
        &[
            "translate",
            "--checkpoint",
            run_dir,
            "--input",
            "in",
            "--out",
            "x",
        ],
        tmp.path(),
    );
    assert_bad_input(&translate, &["ganforge inpaint"]);
}

#[test]
fn impossible_holes_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = inpaint_toml(&mnist_fixture(tmp.path(), 4));
    let shape = common::try_plan_on(
        &toml,
        &["pairs.mask=\"blob\""],
        ganforge_backend::BackendKind::Flex,
    );
    let err = shape.unwrap_err().to_string();
    assert!(err.contains("blob"), "{err}");
    let too_big = plan(&toml, &["pairs.hole=32"]);
    let err = too_big.data.open(0).err().unwrap().to_string();
    assert!(err.contains("hole of 32"), "{err}");
}
