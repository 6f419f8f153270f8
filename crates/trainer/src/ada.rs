//! Adaptive augmentation (ADA, Karras et al. 2020): the probability with which each
//! augmentation is applied to each image, raised while the discriminator overfits and lowered
//! while it does not.
//!
//! The overfitting signal is ADA's `r_t = E[sign(D(x))]` over the real items of the last
//! [`AdaSpec::adjust_every`] discriminator steps. After each such window the probability moves
//! by `sign(r_t - target) * items / ramp_images` (so it can go from 0 to 1 in `ramp_images`
//! real items) and is clipped to `[0, 1]`. It starts at 0.
//!
//! The signs are summed on the device and read once per window. The probability, the partial
//! sum and its item count are all in the checkpoints, so a resumed run adjusts as an
//! uninterrupted one does.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// How the augmentation probability follows the discriminator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdaSpec {
    /// The `r_t` the probability steers towards: the share of real items the discriminator
    /// may score as real, minus those it scores as fake.
    pub target: f32,
    /// Discriminator steps per adjustment.
    pub adjust_every: u64,
    /// Real items over which the probability can move by 1.
    pub ramp_images: u64,
}

impl AdaSpec {
    /// ADA's defaults: target 0.6, an adjustment every 4 discriminator steps, 500,000 items
    /// (its `ada_kimg = 500`) from 0 to 1.
    pub const DEFAULT: Self = Self {
        target: 0.6,
        adjust_every: 4,
        ramp_images: 500_000,
    };
}

impl Default for AdaSpec {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The probability and the window being summed.
#[derive(Debug, Clone)]
pub struct AdaState {
    /// How the probability moves.
    pub spec: AdaSpec,
    /// The current probability of each augmentation.
    pub probability: f32,
    /// Sum of the signs of the real items' logits in the window `[1]`.
    pub sign_sum: Tensor<1>,
    /// Real items in the window.
    pub items: u64,
}

impl AdaState {
    /// Probability 0 and an empty window on `device`.
    pub fn new(spec: AdaSpec, device: &Device) -> Self {
        Self {
            spec,
            probability: 0.0,
            sign_sum: Tensor::zeros([1], device),
            items: 0,
        }
    }

    /// Adds discriminator step `step`'s real logits `[B, 1]` to the window, and adjusts the
    /// probability when the step closes one.
    pub fn observe(&mut self, real_logits: Tensor<2>, step: u64) {
        let [items, _] = real_logits.dims();
        let signs = real_logits.detach().sign().sum();
        self.sign_sum = self.sign_sum.clone() + signs;
        self.items += items as u64;
        if (step + 1).is_multiple_of(self.spec.adjust_every.max(1)) {
            self.adjust();
        }
    }

    /// ADA's `r_t` of the window so far; 0 for an empty one.
    pub fn overfitting(&self) -> f32 {
        match self.items {
            0 => 0.0,
            items => self.sign_sum.clone().into_scalar::<f32>() / items as f32,
        }
    }

    /// The state as a checkpoint keeps it (reading the window's sum from the device).
    pub fn record(&self) -> AdaRecord {
        AdaRecord {
            probability: self.probability,
            sign_sum: self.sign_sum.clone().into_scalar::<f32>(),
            items: self.items,
        }
    }

    /// The state `record` holds, for a run adapting as `spec` says, on `device`; a record no
    /// run could have written is an error saying why.
    pub fn restore(record: AdaRecord, spec: AdaSpec, device: &Device) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&record.probability) {
            return Err(format!(
                "probability {} is outside [0, 1]",
                record.probability
            ));
        }
        if !record.sign_sum.is_finite() || record.sign_sum.abs() > record.items as f32 {
            return Err(format!(
                "a sum of signs {} over {} items",
                record.sign_sum, record.items
            ));
        }
        Ok(Self {
            spec,
            probability: record.probability,
            sign_sum: Tensor::from_floats([record.sign_sum], device),
            items: record.items,
        })
    }

    /// Moves the probability by the window's `r_t` and starts a new window.
    fn adjust(&mut self) {
        let (r_t, spec) = (self.overfitting(), self.spec);
        let direction = match r_t.partial_cmp(&spec.target) {
            Some(std::cmp::Ordering::Greater) => 1.0,
            Some(std::cmp::Ordering::Less) => -1.0,
            _ => 0.0,
        };
        let step = direction * self.items as f64 / spec.ramp_images.max(1) as f64;
        self.probability = (self.probability as f64 + step).clamp(0.0, 1.0) as f32;
        self.sign_sum = self.sign_sum.clone().zeros_like();
        self.items = 0;
    }
}

/// [`AdaState`] as a checkpoint's `ada.json` holds it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaRecord {
    /// The probability.
    pub probability: f32,
    /// The window's sum of signs.
    pub sign_sum: f32,
    /// The window's real items.
    pub items: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits(values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::<1>::from_floats(values, device).reshape([values.len(), 1])
    }

    #[test]
    fn the_probability_rises_while_reals_score_as_real_and_falls_otherwise() {
        let device = Device::flex();
        let spec = AdaSpec {
            target: 0.6,
            adjust_every: 2,
            ramp_images: 16,
        };
        let mut state = AdaState::new(spec, &device);
        // Four real items scored real, per step: r_t = 1 > 0.6.
        state.observe(logits(&[1.0, 2.0, 0.5, 3.0], &device), 0);
        assert_eq!(state.probability, 0.0, "adjusted before the window closed");
        assert_eq!(state.overfitting(), 1.0);
        state.observe(logits(&[1.0, 2.0, 0.5, 3.0], &device), 1);
        assert_eq!(state.probability, 0.5, "8 of 16 items");
        assert_eq!(state.items, 0);
        // Half and half: r_t = 0 < 0.6, down again.
        state.observe(logits(&[1.0, -2.0, 0.5, -3.0], &device), 2);
        state.observe(logits(&[1.0, -2.0, 0.5, -3.0], &device), 3);
        assert_eq!(state.probability, 0.0);
        // Never below 0.
        state.observe(logits(&[-1.0; 4], &device), 4);
        state.observe(logits(&[-1.0; 4], &device), 5);
        assert_eq!(state.probability, 0.0);
    }
}
