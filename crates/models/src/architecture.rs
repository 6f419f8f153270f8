//! One type for "any generator" and "any discriminator", and the pair of configs that builds
//! them, so a training loop can hold whichever architecture a run asks for.

use burn::prelude::*;

use crate::dcgan::{
    DcganDiscriminator, DcganDiscriminatorConfig, DcganGenerator, DcganGeneratorConfig,
};
use crate::dcgan_mnist::{
    DcganMnistDiscriminator, DcganMnistDiscriminatorConfig, DcganMnistGenerator,
    DcganMnistGeneratorConfig,
};
use crate::error::ModelError;
use crate::init::WeightInit;
use crate::mlp::{MlpDiscriminator, MlpDiscriminatorConfig, MlpGenerator, MlpGeneratorConfig};
use crate::toy::{ToyDiscriminator, ToyDiscriminatorConfig, ToyGenerator, ToyGeneratorConfig};

/// Any of the generators of this crate.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Generator {
    /// See [`MlpGenerator`].
    Mlp(MlpGenerator),
    /// See [`DcganMnistGenerator`].
    DcganMnist(DcganMnistGenerator),
    /// See [`DcganGenerator`].
    Dcgan(DcganGenerator),
    /// See [`ToyGenerator`].
    Toy(ToyGenerator),
}

impl Generator {
    /// `[B, latent] -> [B, C, H, W]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        match self {
            Generator::Mlp(g) => g.forward(z),
            Generator::DcganMnist(g) => g.forward(z),
            Generator::Dcgan(g) => g.forward(z),
            Generator::Toy(g) => g.forward(z),
        }
    }
}

/// Any of the discriminators of this crate.
#[derive(Module, Debug)]
pub enum Discriminator {
    /// See [`MlpDiscriminator`].
    Mlp(MlpDiscriminator),
    /// See [`DcganMnistDiscriminator`].
    DcganMnist(DcganMnistDiscriminator),
    /// See [`DcganDiscriminator`].
    Dcgan(DcganDiscriminator),
    /// See [`ToyDiscriminator`].
    Toy(ToyDiscriminator),
}

impl Discriminator {
    /// `[B, C, H, W] -> [B, 1]` logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Discriminator::Mlp(d) => d.forward(x),
            Discriminator::DcganMnist(d) => d.forward(x),
            Discriminator::Dcgan(d) => d.forward(x),
            Discriminator::Toy(d) => d.forward(x),
        }
    }
}

/// The generator and discriminator configs of one architecture.
#[derive(Debug, Clone, PartialEq)]
pub enum Architecture {
    /// `mlp-mnist`.
    Mlp(MlpGeneratorConfig, MlpDiscriminatorConfig),
    /// `dcgan-mnist`.
    DcganMnist(DcganMnistGeneratorConfig, DcganMnistDiscriminatorConfig),
    /// `dcgan32`, `dcgan64` and other powers of two.
    Dcgan(DcganGeneratorConfig, DcganDiscriminatorConfig),
    /// The 2-D toy MLP pair.
    Toy(ToyGeneratorConfig, ToyDiscriminatorConfig),
}

impl Architecture {
    /// Size of the generator's noise input.
    pub fn latent_dim(&self) -> usize {
        match self {
            Architecture::Mlp(g, _) => g.latent_dim,
            Architecture::DcganMnist(g, _) => g.latent_dim,
            Architecture::Dcgan(g, _) => g.latent_dim,
            Architecture::Toy(g, _) => g.latent_dim,
        }
    }

    /// Shape `[C, H, W]` of one generated sample.
    pub fn sample_shape(&self) -> [usize; 3] {
        match self {
            Architecture::Mlp(g, _) => g.sample_shape,
            Architecture::DcganMnist(g, _) => [g.channels, g.image_size, g.image_size],
            Architecture::Dcgan(g, _) => [g.channels, g.image_size, g.image_size],
            Architecture::Toy(..) => [2, 1, 1],
        }
    }

    /// The same architecture producing `size` x `size` images (`size` x `size` inputs for
    /// the discriminator); the toy pair has no image size and is returned unchanged. Whether
    /// the size is possible is checked when the networks are built.
    pub fn with_image_size(self, size: usize) -> Self {
        match self {
            Architecture::Mlp(mut g, mut d) => {
                g.sample_shape = [g.sample_shape[0], size, size];
                d.sample_shape = g.sample_shape;
                Architecture::Mlp(g, d)
            }
            Architecture::DcganMnist(mut g, mut d) => {
                g.image_size = size;
                d.image_size = size;
                Architecture::DcganMnist(g, d)
            }
            Architecture::Dcgan(mut g, mut d) => {
                g.image_size = size;
                d.image_size = size;
                Architecture::Dcgan(g, d)
            }
            toy @ Architecture::Toy(..) => toy,
        }
    }

    /// Builds the generator from `seed`.
    pub fn generator(&self, device: &Device, seed: u64) -> Result<Generator, ModelError> {
        let init = &mut WeightInit::new(seed);
        Ok(match self {
            Architecture::Mlp(g, _) => Generator::Mlp(g.init(device, init)?),
            Architecture::DcganMnist(g, _) => Generator::DcganMnist(g.init(device, init)?),
            Architecture::Dcgan(g, _) => Generator::Dcgan(g.init(device, init)?),
            Architecture::Toy(g, _) => Generator::Toy(g.init(device, init)?),
        })
    }

    /// Builds the discriminator from `seed`.
    pub fn discriminator(&self, device: &Device, seed: u64) -> Result<Discriminator, ModelError> {
        let init = &mut WeightInit::new(seed);
        Ok(match self {
            Architecture::Mlp(_, d) => Discriminator::Mlp(d.init(device, init)?),
            Architecture::DcganMnist(_, d) => Discriminator::DcganMnist(d.init(device, init)?),
            Architecture::Dcgan(_, d) => Discriminator::Dcgan(d.init(device, init)?),
            Architecture::Toy(_, d) => Discriminator::Toy(d.init(device, init)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use burn::module::{ModuleVisitor, Param};

    struct Collect(Vec<f32>);

    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0
                .extend(param.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }

    fn weights(g: &Generator) -> Vec<f32> {
        let mut collect = Collect(Vec::new());
        g.visit(&mut collect);
        collect.0
    }

    #[test]
    fn same_seed_same_weights_other_seed_other_weights() {
        let device = Device::flex();
        let arch = Architecture::DcganMnist(
            DcganMnistGeneratorConfig::mnist(),
            DcganMnistDiscriminatorConfig::mnist(),
        );
        let a = weights(&arch.generator(&device, 7).unwrap());
        let b = weights(&arch.generator(&device, 7).unwrap());
        let c = weights(&arch.generator(&device, 8).unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
