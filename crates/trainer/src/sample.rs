//! Sampling from a generator: chunks of noise (and labels) in, host values out, and the fixed
//! noise behind a run's sample grids.

use burn::prelude::*;
use ganforge_models::Generator;
use rand::Rng;

use crate::objective::{PairShape, label_tensor, normal_noise};
use crate::translation::keep_known;

/// Items generated per forward pass.
const CHUNK: usize = 256;

/// Draws samples of one shape from a generator.
#[derive(Debug, Clone, Copy)]
pub struct Sampler {
    latent_dim: usize,
    shape: [usize; 3],
}

impl Sampler {
    /// For a generator taking `latent_dim` noise values and making `[C, H, W]` samples.
    pub fn new(latent_dim: usize, shape: [usize; 3]) -> Self {
        Self { latent_dim, shape }
    }

    /// Generates one sample per `latent_dim` values of `noise`, for the class of the same
    /// entry of `labels` when given, with the generator in evaluation mode (BatchNorm running
    /// statistics). Returns host values `[N, C, H, W]`.
    pub fn generate_from(
        &self,
        generator: &Generator,
        device: &Device,
        noise: &[f32],
        labels: Option<&[u32]>,
    ) -> Vec<f32> {
        let eval = generator.valid();
        let count = noise.len() / self.latent_dim;
        let mut out = Vec::with_capacity(count * self.shape.iter().product::<usize>());
        for (i, chunk) in noise.chunks(CHUNK * self.latent_dim).enumerate() {
            let n = chunk.len() / self.latent_dim;
            let z = Tensor::<2>::from_data(
                TensorData::new(chunk.to_vec(), [n, self.latent_dim]),
                device,
            );
            let labels = labels.map(|l| label_tensor(&l[i * CHUNK..i * CHUNK + n], device));
            let x = eval.forward(z, labels.as_ref());
            out.extend(
                x.into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .unwrap_or_default(),
            );
        }
        out
    }

    /// Translates each `[source_channels, H, W]` image of `sources` with its share of `noise`
    /// (`latent_dim` values each: a translating generator's dropout masks), in evaluation
    /// mode; an inpainter's translations keep the sources' known pixels. Returns host values
    /// `[N, C, H, W]`.
    pub fn translate_from(
        &self,
        generator: &Generator,
        device: &Device,
        sources: &[f32],
        pairs: PairShape,
        noise: &[f32],
    ) -> Vec<f32> {
        let eval = generator.valid();
        let source_channels = pairs.source_channels;
        let [_, h, w] = self.shape;
        let source_size = (source_channels * h * w).max(1);
        let count = sources.len() / source_size;
        let mut out = Vec::with_capacity(count * self.shape.iter().product::<usize>());
        for start in (0..count).step_by(CHUNK) {
            let n = CHUNK.min(count - start);
            let source = Tensor::<4>::from_data(
                TensorData::new(
                    sources[start * source_size..(start + n) * source_size].to_vec(),
                    [n, source_channels, h, w],
                ),
                device,
            );
            let z = Tensor::<2>::from_data(
                TensorData::new(
                    noise[start * self.latent_dim..(start + n) * self.latent_dim].to_vec(),
                    [n, self.latent_dim],
                ),
                device,
            );
            let mut translated = eval.translate(source.clone(), z);
            if pairs.masked {
                translated = keep_known(source, translated);
            }
            out.extend(
                translated
                    .into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .unwrap_or_default(),
            );
        }
        out
    }

    /// Generates `count` samples from noise drawn with `rng`, for `labels` when given.
    pub fn generate(
        &self,
        generator: &Generator,
        device: &Device,
        rng: &mut impl Rng,
        count: usize,
        labels: Option<&[u32]>,
    ) -> Vec<f32> {
        let noise = normal_noise(rng, count * self.latent_dim);
        self.generate_from(generator, device, &noise, labels)
    }

    /// Shape `[C, H, W]` of a sample.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Size of a noise vector.
    pub fn latent_dim(&self) -> usize {
        self.latent_dim
    }
}

/// Noise and labels for a grid: unconditional, `count` samples; conditional, one row per
/// class of `count / classes` samples (at least one), the same noise in every row so a
/// column shows one latent point across the classes.
#[derive(Debug, Clone)]
pub struct GridInputs {
    /// Noise, `latent_dim` values per sample.
    pub noise: Vec<f32>,
    /// The class of each sample (conditional grids).
    pub labels: Option<Vec<u32>>,
    /// Samples per row.
    pub columns: usize,
}

impl GridInputs {
    /// Draws the grid's noise with `rng`; `classes` is 0 for an unconditional grid.
    pub fn new(rng: &mut impl Rng, latent_dim: usize, count: usize, classes: usize) -> Self {
        if classes == 0 {
            let columns = (count as f64).sqrt().ceil().max(1.0) as usize;
            return Self {
                noise: normal_noise(rng, count * latent_dim),
                labels: None,
                columns,
            };
        }
        Self::for_classes(
            rng,
            latent_dim,
            count.div_ceil(classes).max(1),
            &all(classes),
        )
    }

    /// A square grid of `count` samples whose classes cycle through `classes` classes (0, 1,
    /// ..., 0, 1, ...): a conditional generator's mixed grid. Without labels when `classes` is 0.
    pub fn mixed(rng: &mut impl Rng, latent_dim: usize, count: usize, classes: usize) -> Self {
        Self {
            labels: (classes > 0).then(|| cycling_labels(count, classes)),
            ..Self::new(rng, latent_dim, count, 0)
        }
    }

    /// One row of `columns` samples for each class of `classes`, the same noise in each row.
    pub fn for_classes(
        rng: &mut impl Rng,
        latent_dim: usize,
        columns: usize,
        classes: &[u32],
    ) -> Self {
        let row = normal_noise(rng, columns * latent_dim);
        Self {
            noise: row.repeat(classes.len()),
            labels: Some(
                classes
                    .iter()
                    .flat_map(|&c| std::iter::repeat_n(c, columns))
                    .collect(),
            ),
            columns,
        }
    }
}

fn all(classes: usize) -> Vec<u32> {
    (0..classes as u32).collect()
}

/// `count` labels cycling through `classes` classes: 0, 1, ..., `classes - 1`, 0, 1, ...
pub fn cycling_labels(count: usize, classes: usize) -> Vec<u32> {
    (0..count).map(|i| (i % classes.max(1)) as u32).collect()
}
