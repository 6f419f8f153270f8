//! Hostile input to the command line's readers, fuzzed with property tests: TOML
//! configurations (random text, shipped configs with bytes flipped, arbitrary `--set` items)
//! and checkpoints (each file truncated or corrupted). Every case ends in `Ok` or an error,
//! never a panic.
//!
//! Cases per property: `PROPTEST_CASES` (default 256 here; RELIABILITY.md records longer
//! runs); the cases are drawn from the seed `PROPTEST_RNG_SEED` (default 0), so a run is
//! repeatable and other seeds explore further.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::prelude::Device;
use ganforge_backend::BackendKind;
use ganforge_cli::RawConfig;
use ganforge_cli::validate::{resolve, run_spec};
use ganforge_trainer::generate::{GenerateOptions, generate};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(
            std::env::var("PROPTEST_RNG_SEED")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ),
        ..ProptestConfig::default()
    }
}

fn shipped_configs() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs");
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    texts.sort();
    texts
}

/// Parses, resolves and validates `text` with `overrides`; the data is never opened except
/// for an image folder's classes, which a random path does not have.
fn validate(text: &str, overrides: &[String]) {
    let Ok(mut config) = RawConfig::parse(text, overrides) else {
        return;
    };
    if let Ok(backend) = resolve(&mut config, Some(BackendKind::Flex), None) {
        let _ = run_spec(&config, backend);
    }
    let _ = config.to_toml();
}

/// A finished toy run's checkpoint, made once.
fn checkpoint() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let runs = tempfile::tempdir().unwrap();
        let plan = common::plan(
            "[model]\narchitecture = \"toy-mlp\"\nwidth = 8\ndepth = 1\n\
             [data]\ndataset = \"toy-ring8\"\nsamples = 64\n[train]\nsteps = 2\nbatch_size = 16\n",
            &[],
        );
        let summary = common::run(&plan, runs.path(), None);
        (runs, summary.checkpoint)
    })
    .1
}

const CHECKPOINT_FILES: [&str; 6] = [
    "generator.bpk",
    "discriminator.bpk",
    "optimizer-g.bpk",
    "optimizer-d.bpk",
    "state.json",
    "spec.json",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_text(text in ".{0,200}") {
        validate(&text, &[]);
    }

    #[test]
    fn shipped_configs_mutated(which in any::<prop::sample::Index>(),
                               flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..), 1..6)) {
        let configs = shipped_configs();
        let mut bytes = which.get(&configs).clone().into_bytes();
        for (at, mask) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        validate(&String::from_utf8_lossy(&bytes), &[]);
    }

    #[test]
    fn overrides(key in "[a-z_.]{0,30}", value in ".{0,30}") {
        let base = "[model]\narchitecture = \"dcgan-mnist\"\n[data]\ndataset = \"mnist\"\n";
        validate(base, &[format!("{key}={value}")]);
        validate(base, &[key]);
    }

    #[test]
    fn corrupt_checkpoints(file in 0usize..6, flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..), 0..6),
                           keep in 0.0f64..=1.0) {
        let source = checkpoint();
        let dir = tempfile::tempdir().unwrap();
        for name in CHECKPOINT_FILES {
            std::fs::copy(source.join(name), dir.path().join(name)).unwrap();
        }
        let target = dir.path().join(CHECKPOINT_FILES[file]);
        let mut bytes = std::fs::read(&target).unwrap();
        for (at, mask) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        bytes.truncate((bytes.len() as f64 * keep) as usize);
        std::fs::write(&target, bytes).unwrap();
        let options = GenerateOptions {
            count: 4,
            out: dir.path().join("out"),
            seed: 0,
            class: None,
            scale: 1,
            weights: Default::default(),
        };
        let _ = generate(dir.path(), &options, &Device::flex());
        let plan = common::plan(&std::fs::read_to_string(
            source.parent().unwrap().parent().unwrap().join("resolved.toml")).unwrap(), &[]);
        let gan = ganforge_trainer::objective::Gan::new(
            &plan.gan_spec(), &Device::flex().autodiff(), plan.init_seeds()).unwrap();
        let _ = ganforge_trainer::checkpoint::load(dir.path(), gan);
    }
}

/// A checkpoint of other networks is refused by name, not loaded into the wrong shapes.
#[test]
fn a_checkpoint_of_another_architecture_is_refused() {
    let source = checkpoint();
    let plan = common::plan(
        "[model]\narchitecture = \"toy-mlp\"\nwidth = 16\ndepth = 1\n\
         [data]\ndataset = \"toy-ring8\"\nsamples = 64\n",
        &[],
    );
    let gan = ganforge_trainer::objective::Gan::new(
        &plan.gan_spec(),
        &Device::flex().autodiff(),
        plan.init_seeds(),
    )
    .unwrap();
    let Err(err) = ganforge_trainer::checkpoint::load(source, gan) else {
        panic!("loaded a checkpoint of width 8 into networks of width 16");
    };
    assert!(err.to_string().contains("generator.bpk"), "{err}");
}
