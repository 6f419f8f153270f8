//! The four reference architectures of the peer benchmark, by name, with their batch sizes:
//! `mlp-mnist` (64), `dcgan-mnist` (64), `dcgan32` (64) and `dcgan64` (128); and the two
//! image-to-image ones timed beside PyTorch (`benches/peer/torch_pix2pix.py`): pix2pix's
//! `unet_256` with its PatchGAN, RGB -> RGB, at 256x256 batch 1 (`pix2pix256`) and at 64x64
//! batch 16 (`pix2pix64`); and the toolkit's SNGAN networks (`benches/peer/torch_sngan.py`)
//! at 32x32 batch 64 (`sngan32`).

use crate::architecture::Architecture;
use crate::dcgan::{DcganDiscriminatorConfig, DcganGeneratorConfig};
use crate::dcgan_mnist::{DcganMnistDiscriminatorConfig, DcganMnistGeneratorConfig};
use crate::mlp::{MlpDiscriminatorConfig, MlpGeneratorConfig};
use crate::patchgan::PatchGanDiscriminatorConfig;
use crate::resnet::{ResnetDiscriminatorConfig, ResnetGeneratorConfig};
use crate::unet::UnetGeneratorConfig;

/// Names of the reference architectures, in the peer benchmark's order.
pub const REFERENCE_MODELS: [&str; 4] = ["mlp-mnist", "dcgan-mnist", "dcgan32", "dcgan64"];

/// Names of the image-to-image benchmark architectures.
pub const TRANSLATION_MODELS: [&str; 2] = ["pix2pix256", "pix2pix64"];

/// Names of the toolkit's other architectures timed beside a PyTorch peer of their own.
pub const TOOLKIT_MODELS: [&str; 1] = ["sngan32"];

/// The reference (or image-to-image benchmark) architecture called `name` and its benchmark
/// batch size.
pub fn reference(name: &str) -> Option<(Architecture, usize)> {
    Some(match name {
        "mlp-mnist" => (
            Architecture::Mlp(MlpGeneratorConfig::mnist(), MlpDiscriminatorConfig::mnist()),
            64,
        ),
        "dcgan-mnist" => (
            Architecture::DcganMnist(
                DcganMnistGeneratorConfig::mnist(),
                DcganMnistDiscriminatorConfig::mnist(),
            ),
            64,
        ),
        "dcgan32" => (
            Architecture::Dcgan(
                DcganGeneratorConfig::new(32, 3),
                DcganDiscriminatorConfig::new(32, 3),
            ),
            64,
        ),
        "dcgan64" => (
            Architecture::Dcgan(
                DcganGeneratorConfig::new(64, 3),
                DcganDiscriminatorConfig::new(64, 3),
            ),
            128,
        ),
        "sngan32" => (
            Architecture::Resnet(
                ResnetGeneratorConfig::new(32, 3),
                ResnetDiscriminatorConfig::new(32, 3),
            ),
            64,
        ),
        "pix2pix256" => (pix2pix_rgb(256), 1),
        "pix2pix64" => (pix2pix_rgb(64), 16),
        _ => return None,
    })
}

/// pix2pix's networks at their defaults for RGB -> RGB pairs of side `size`.
fn pix2pix_rgb(size: usize) -> Architecture {
    Architecture::Pix2Pix(
        UnetGeneratorConfig::new(3, 3, size),
        PatchGanDiscriminatorConfig::new(6, size),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves() {
        for name in REFERENCE_MODELS {
            let (arch, batch) = reference(name).unwrap();
            assert!(batch >= 64);
            assert_eq!(arch.latent_dim(), 100);
        }
        assert_eq!(reference("dcgan64").unwrap().0.sample_shape(), [3, 64, 64]);
        for name in TRANSLATION_MODELS {
            assert!(reference(name).is_some(), "{name}");
        }
        assert_eq!(
            reference("pix2pix256").unwrap().0.item_shape(),
            [6, 256, 256]
        );
        assert_eq!(reference("sngan32").unwrap().0.latent_dim(), 128);
        assert!(reference("dcgan128").is_none());
    }
}
