//! Every shipped config parses, validates and builds its networks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ganforge_backend::BackendKind;
use ganforge_cli::RawConfig;
use ganforge_cli::config::ImputeConfig;
use ganforge_cli::validate::{resolve, run_spec};
use ganforge_trainer::objective::Gan;

#[test]
fn every_config_in_configs_is_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if text.parse::<toml::Table>().unwrap().contains_key("gain") {
            // an imputation config, for `ganforge impute`
            let config = ImputeConfig::load(&path, &[])
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            config.gain.spec().check().unwrap();
            assert!(config.data.is_some(), "{}: no data.csv", path.display());
            seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
            continue;
        }
        let mut config =
            RawConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let plan = resolve(&mut config, Some(BackendKind::Flex), None)
            .and_then(|backend| run_spec(&config, backend))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let device = burn::prelude::Device::flex();
        Gan::new(&plan.gan_spec(), &device, plan.init_seeds()).unwrap();
        seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    seen.sort();
    for required in [
        "dcgan-fashion-mnist.toml",
        "dcgan-mnist.toml",
        "mlp-mnist.toml",
        "toy-grid25.toml",
        "toy-ring8.toml",
        "cgan-mnist.toml",
        "cgan-fashion-mnist.toml",
        "toy-ring8-conditional.toml",
        "wgan-gp-grid25.toml",
        "wgan-mnist.toml",
        "wgan-gp-mnist.toml",
        "wgan-gp-cifar10.toml",
        "sngan-cifar10.toml",
        "r1-fashion-mnist.toml",
        "gain-letter.toml",
        "gain-spam.toml",
        "pix2pix-edges2fashion.toml",
        "pix2pix-gray2color-cifar10.toml",
        "inpaint-cifar10.toml",
    ] {
        assert!(
            seen.iter().any(|s| s == required),
            "{required} missing from configs/"
        );
    }
}
