//! The four reference architectures of the peer benchmark, by name, with their batch sizes:
//! `mlp-mnist` (64), `dcgan-mnist` (64), `dcgan32` (64) and `dcgan64` (128).

use crate::architecture::Architecture;
use crate::dcgan::{DcganDiscriminatorConfig, DcganGeneratorConfig};
use crate::dcgan_mnist::{DcganMnistDiscriminatorConfig, DcganMnistGeneratorConfig};
use crate::mlp::{MlpDiscriminatorConfig, MlpGeneratorConfig};

/// Names of the reference architectures, in the peer benchmark's order.
pub const REFERENCE_MODELS: [&str; 4] = ["mlp-mnist", "dcgan-mnist", "dcgan32", "dcgan64"];

/// The reference architecture called `name` and its benchmark batch size.
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
        _ => return None,
    })
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
        assert!(reference("dcgan128").is_none());
    }
}
