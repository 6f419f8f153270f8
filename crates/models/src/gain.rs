//! GAIN (Yoon et al. 2018): the generator and discriminator of tabular imputation.
//!
//! Both networks are `[values, side] -> Linear(2d, h) -> ReLU -> Linear(h, h) -> ReLU ->
//! Linear(h, d)` over a table of `d` columns scaled to `[0, 1]`, as in the paper's reference
//! code (weights `N(0, 2 / fan_in)`, biases zero). The generator's side input is the mask
//! (1 = observed) and its output passes through a sigmoid: one value per cell. The
//! discriminator's side input is the hint, and its output is one logit per cell: how likely
//! that cell was observed rather than imputed.
//!
//! # Shapes
//! - values, mask, hint: `[B, d]`
//! - [`GainGenerator::forward`]: `[B, d]` in `(0, 1)`
//! - [`GainDiscriminator::forward`]: `[B, d]` logits

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::error::{ModelError, positive};
use crate::init::WeightInit;

/// Configuration of both GAIN networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GainConfig {
    /// Columns of the table (`d`).
    pub columns: usize,
    /// Width of the two hidden layers (`h`; the reference uses `d`).
    pub hidden: usize,
}

impl GainConfig {
    /// The reference networks for a table of `columns` columns (`hidden = columns`).
    pub fn new(columns: usize) -> Self {
        Self {
            columns,
            hidden: columns,
        }
    }

    fn check(&self) -> Result<(), ModelError> {
        positive("columns", self.columns)?;
        positive("hidden", self.hidden)
    }

    fn mlp(&self, device: &Device, init: &mut WeightInit) -> Result<ThreeLayer, ModelError> {
        self.check()?;
        Ok(ThreeLayer {
            first: init.he_linear(2 * self.columns, self.hidden, device),
            second: init.he_linear(self.hidden, self.hidden, device),
            out: init.he_linear(self.hidden, self.columns, device),
        })
    }

    /// Builds the generator, rejecting zero sizes.
    pub fn init_generator(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<GainGenerator, ModelError> {
        Ok(GainGenerator {
            mlp: self.mlp(device, init)?,
        })
    }

    /// Builds the discriminator, rejecting zero sizes.
    pub fn init_discriminator(
        &self,
        device: &Device,
        init: &mut WeightInit,
    ) -> Result<GainDiscriminator, ModelError> {
        Ok(GainDiscriminator {
            mlp: self.mlp(device, init)?,
        })
    }
}

/// Two ReLU hidden layers over the joined inputs.
#[derive(Module, Debug)]
struct ThreeLayer {
    first: Linear,
    second: Linear,
    out: Linear,
}

impl ThreeLayer {
    fn forward(&self, values: Tensor<2>, side: Tensor<2>) -> Tensor<2> {
        let x = Tensor::cat(vec![values, side], 1); // [B, 2d]
        let x = relu(self.first.forward(x));
        let x = relu(self.second.forward(x));
        self.out.forward(x)
    }
}

/// GAIN's generator: a value for every cell, from the observed values (noise elsewhere) and
/// the mask.
#[derive(Module, Debug)]
pub struct GainGenerator {
    mlp: ThreeLayer,
}

impl GainGenerator {
    /// `[B, d], [B, d] -> [B, d]` in `(0, 1)`.
    pub fn forward(&self, values: Tensor<2>, mask: Tensor<2>) -> Tensor<2> {
        sigmoid(self.mlp.forward(values, mask))
    }
}

/// GAIN's discriminator: for every cell of an imputed row, a logit that it was observed.
#[derive(Module, Debug)]
pub struct GainDiscriminator {
    mlp: ThreeLayer,
}

impl GainDiscriminator {
    /// `[B, d], [B, d] -> [B, d]` logits.
    pub fn forward(&self, imputed: Tensor<2>, hint: Tensor<2>) -> Tensor<2> {
        self.mlp.forward(imputed, hint)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shapes_and_ranges() {
        let device = Device::flex();
        let config = GainConfig::new(5);
        let mut init = WeightInit::new(1);
        let g = config.init_generator(&device, &mut init).unwrap();
        let d = config.init_discriminator(&device, &mut init).unwrap();
        let x = Tensor::<2>::ones([3, 5], &device);
        let out = g.forward(x.clone(), x.clone());
        assert_eq!(out.dims(), [3, 5]);
        let v = out.into_data().try_to_vec::<f32>().unwrap();
        assert!(v.iter().all(|&p| p > 0.0 && p < 1.0));
        assert_eq!(d.forward(x.clone(), x).dims(), [3, 5]);
        assert!(
            GainConfig::new(0)
                .init_generator(&device, &mut init)
                .is_err()
        );
    }
}
