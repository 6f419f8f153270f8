//! The FID Inception-v3 against pytorch-fid: the same randomly initialised network, loaded
//! from a PyTorch state dict, gives the same features on the same pictures.
//!
//! `scripts/inception_fixture.py` writes the fixture (weights, pictures, pytorch-fid's
//! features); `cargo xtask test` runs it and points `GANFORGE_INCEPTION_FIXTURE` at its
//! output. Without the variable the comparison is skipped, except under `CI=true`, where it
//! fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use burn::prelude::*;
use ganforge_models::{FidInception, INCEPTION_CLASSES, INCEPTION_FEATURES};

/// Largest difference allowed, relative to the largest feature.
const TOLERANCE: f32 = 1e-4;

fn fixture() -> Option<PathBuf> {
    match std::env::var_os("GANFORGE_INCEPTION_FIXTURE") {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("GANFORGE_INCEPTION_FIXTURE must name the pytorch-fid fixture under CI=true")
        }
        None => {
            eprintln!("skipped: GANFORGE_INCEPTION_FIXTURE is not set (cargo xtask test sets it)");
            None
        }
    }
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn shape(dir: &Path, name: &str) -> [usize; 4] {
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let dims: Vec<usize> = manifest[name]["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    dims.try_into().unwrap()
}

/// Largest |ours - theirs| over the largest |theirs|.
fn relative_gap(ours: &[f32], theirs: &[f32]) -> f32 {
    let scale = theirs.iter().fold(0f32, |m, v| m.max(v.abs()));
    let gap = ours
        .iter()
        .zip(theirs)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    gap / scale
}

fn compare(net: &FidInception, dir: &Path, name: &str, device: &Device) {
    let dims = shape(dir, name);
    let pictures = read_f32(&dir.join(format!("{name}.f32")));
    let expected = read_f32(&dir.join(format!("{name}.features.f32")));
    let x = Tensor::<4>::from_data(TensorData::new(pictures, dims), device);
    let features = net.forward(x);
    let logits = net.class_logits(features.clone());
    let ours = features.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(ours.len(), dims[0] * INCEPTION_FEATURES);
    let gap = relative_gap(&ours, &expected);
    eprintln!("{name}: largest gap {gap:.2e} of the largest feature");
    assert!(gap <= TOLERANCE, "{name}: features differ by {gap:e}");
    let logits = logits.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(logits.len(), dims[0] * INCEPTION_CLASSES);
    let expected_logits = read_f32(&dir.join(format!("{name}.logits.f32")));
    let gap = relative_gap(&logits, &expected_logits);
    eprintln!("{name}: largest gap {gap:.2e} of the largest logit");
    assert!(gap <= TOLERANCE, "{name}: logits differ by {gap:e}");
    // The pictures differ from each other by far more than the tolerance, so a network that
    // ignored its input could not pass.
    let per = INCEPTION_FEATURES;
    let between = relative_gap(&expected[..per], &expected[per..2 * per]);
    assert!(
        between > 100.0 * TOLERANCE,
        "{name}: fixture pictures too alike"
    );
}

#[test]
fn features_equal_pytorch_fid() {
    let Some(dir) = fixture() else { return };
    let device = Device::flex();
    for weights in ["weights.pth", "weights-legacy.pth"] {
        let net = FidInception::load(&dir.join(weights), &device)
            .unwrap_or_else(|e| panic!("{weights}: {e}"));
        compare(&net, &dir, "rgb", &device);
        compare(&net, &dir, "grey", &device);
    }
}

#[test]
fn a_state_dict_without_every_weight_is_refused() {
    let Some(dir) = fixture() else { return };
    // The pictures file is not a state dict at all.
    let err = FidInception::load(&dir.join("rgb.f32"), &Device::flex()).unwrap_err();
    assert!(err.to_string().contains("rgb.f32"), "{err}");
}
