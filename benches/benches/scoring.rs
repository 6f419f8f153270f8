//! Scoring speed, beside pytorch-fid (`benches/peer/torch_scoring.py`, run by `cargo xtask
//! bench`): pool3 features of the FID Inception-v3 per second, and Fréchet distances of
//! 2048-dimensional feature sets per second (both sets' statistics included).
//!
//! `-- --weights PATH` names any state dict with the FID Inception's keys (speed does not
//! depend on the values; `cargo xtask bench` passes the random network of the parity
//! fixture); `--pictures N` (100) 32x32 RGB pictures are scored in batches of 25 after one
//! batch of warm-up; `--rows N` (3000) samples per feature set. One JSON line per task.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use ganforge_metrics::{Features, GaussianStats, frechet_distance};
use ganforge_models::{FidInception, INCEPTION_FEATURES};

const BATCH: usize = 25;
const SIDE: usize = 32;

/// A fixed sequence in `[0, 1)`: the same inputs as the peer's would need the same
/// generator, and speed does not depend on them.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn inception_features_per_s(weights: &Path, pictures: usize) -> f64 {
    let device = Device::flex();
    let net = FidInception::load(weights, &device).expect("Inception weights");
    let batch = |seed| {
        let data = TensorData::new(
            values(BATCH * 3 * SIDE * SIDE, seed),
            [BATCH, 3, SIDE, SIDE],
        );
        Tensor::<4>::from_data(data, &device)
    };
    let _ = net.forward(batch(0)).into_data();
    let batches = pictures.div_ceil(BATCH);
    let start = Instant::now();
    for b in 0..batches {
        let _ = net.forward(batch(b as u64 + 1)).into_data();
    }
    (batches * BATCH) as f64 / start.elapsed().as_secs_f64()
}

fn frechet_per_s(rows: usize) -> f64 {
    let set =
        |seed| Features::from_f32(&values(rows * INCEPTION_FEATURES, seed), INCEPTION_FEATURES);
    let (a, b) = (set(1).unwrap(), set(2).unwrap());
    let start = Instant::now();
    let (sa, sb) = (
        GaussianStats::of(&a).unwrap(),
        GaussianStats::of(&b).unwrap(),
    );
    let d = frechet_distance(&sa, &sb).unwrap();
    assert!(d.is_finite());
    1.0 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pictures = option(&args, "--pictures").map_or(100, |v| v.parse().unwrap());
    let rows = option(&args, "--rows").map_or(3000, |v| v.parse().unwrap());
    if let Some(weights) = option(&args, "--weights") {
        let rate = inception_features_per_s(&PathBuf::from(weights), pictures);
        println!(
            "{{\"task\": \"inception-features\", \"per_s\": {rate}, \"pictures\": {pictures}}}"
        );
    }
    let rate = frechet_per_s(rows);
    println!("{{\"task\": \"frechet-2048\", \"per_s\": {rate}, \"rows\": {rows}}}");
}
