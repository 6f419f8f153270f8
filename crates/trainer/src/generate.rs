//! Sampling from a trained generator: `ganforge generate`.
//!
//! Samples are written as the data they imitate: one PNG per sample at the dataset's own size
//! and channel count (grey or RGB), optionally enlarged, plus `samples.npy` (`[N, C, H, W]`
//! floats in `[-1, 1]`) and, for a conditional generator, `labels.npy` (`[N]` integers).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use ganforge_models::Generator;
use image::{DynamicImage, GrayImage, RgbImage, imageops::FilterType};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::checkpoint::{self, GENERATOR, GENERATOR_EMA, SPEC};
use crate::error::TrainError;
use crate::fsio::{write_atomic, write_png};
use crate::hooks::points;
use crate::render;
use crate::run_dir::CHECKPOINTS;
use crate::sample::{GridInputs, Sampler};
use crate::spec::RunSpec;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Samples (per class with `--class all`).
    pub count: usize,
    /// Output directory.
    pub out: PathBuf,
    /// Noise seed.
    pub seed: u64,
    /// A class by index or name, or `all`; a conditional generator without one cycles
    /// through its classes.
    pub class: Option<String>,
    /// Whole-number enlargement of each written sample (1 = the data's own size).
    pub scale: u32,
    /// Which of the checkpoint's generators to sample.
    pub weights: Weights,
}

/// Which weights of a checkpoint's generator to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weights {
    /// The moving average when the run kept one, else the trained weights.
    #[default]
    Averaged,
    /// The trained weights, even where a moving average exists.
    Trained,
}

/// What `generate` wrote.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The checkpoint directory used.
    pub checkpoint: PathBuf,
    /// Files written, the grid (or scatter plot) last.
    pub files: Vec<PathBuf>,
}

/// The checkpoint directory behind `path`: a run directory (its latest checkpoint), a
/// checkpoint directory, a file inside one, or a pointer file (`checkpoints/latest`,
/// `checkpoints/best`).
pub fn resolve_checkpoint(path: &Path) -> Result<PathBuf, TrainError> {
    if !path.exists() {
        return Err(TrainError::checkpoint(path, "does not exist"));
    }
    let dir = if let Some(dir) = checkpoint::pointed(path) {
        dir
    } else if path.is_file() {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else if path.join(CHECKPOINTS).is_dir() {
        checkpoint::latest(&path.join(CHECKPOINTS))
            .ok_or_else(|| TrainError::checkpoint(path, "this run has no checkpoint yet"))?
    } else {
        path.to_path_buf()
    };
    if !dir.join(GENERATOR).is_file() || !dir.join(SPEC).is_file() {
        return Err(TrainError::checkpoint(
            &dir,
            format!("not a checkpoint: it needs {GENERATOR} and {SPEC}"),
        ));
    }
    Ok(dir)
}

/// The labels `class` asks for among `names`: one class by index or name (exact, then
/// ignoring case), or every class for `all`.
pub fn resolve_class(class: &str, names: &[String]) -> Result<Vec<u32>, TrainError> {
    if class == "all" {
        return Ok((0..names.len() as u32).collect());
    }
    let by_name = names
        .iter()
        .position(|n| n == class)
        .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(class)));
    let by_index = class.parse::<usize>().ok().filter(|&i| i < names.len());
    match by_name.or(by_index) {
        Some(index) => Ok(vec![index as u32]),
        None => Err(TrainError::Invalid {
            key: "--class",
            value: class.to_string(),
            reason: format!(
                "not a class of this generator; valid: all, 0-{} or {}",
                names.len().saturating_sub(1),
                names.join(", ")
            ),
        }),
    }
}

/// Noise and labels for `options`: rows of classes when one or all classes are asked for.
fn inputs(
    options: &GenerateOptions,
    latent_dim: usize,
    names: &[String],
) -> Result<GridInputs, TrainError> {
    let rng = &mut Pcg64Mcg::seed_from_u64(options.seed);
    match (&options.class, names.is_empty()) {
        (Some(class), true) => Err(TrainError::Invalid {
            key: "--class",
            value: class.clone(),
            reason: "this generator is unconditional; it takes no class".into(),
        }),
        (Some(class), false) => {
            let classes = resolve_class(class, names)?;
            Ok(GridInputs::for_classes(
                rng,
                latent_dim,
                options.count,
                &classes,
            ))
        }
        (None, _) => Ok(GridInputs::mixed(
            rng,
            latent_dim,
            options.count,
            names.len(),
        )),
    }
}

/// A checkpoint's generator, ready to sample.
pub struct LoadedGenerator {
    /// The generator, with its trained weights.
    pub generator: Generator,
    /// Its sampler.
    pub sampler: Sampler,
    /// Class names of a conditional generator (empty otherwise).
    pub class_names: Vec<String>,
    /// The run's spec.
    pub spec: RunSpec,
}

impl LoadedGenerator {
    /// The generator, if it makes images from noise; a translator (pix2pix) is refused by
    /// naming the command that uses it.
    pub fn for_sampling(self, dir: &Path) -> Result<Self, TrainError> {
        match self.spec.pair_shape() {
            Some(_) => Err(TrainError::checkpoint(
                dir,
                "its generator translates images rather than sampling noise: use `ganforge \
                 translate`",
            )),
            None => Ok(self),
        }
    }
}

/// Loads the generator of checkpoint directory `dir` on `device`, with the `weights` asked for.
pub fn load_generator(
    dir: &Path,
    device: &Device,
    weights: Weights,
) -> Result<LoadedGenerator, TrainError> {
    let spec = checkpoint::spec(dir)?;
    let arch = &spec.architecture;
    let conditioning = spec.conditioning;
    let generator = arch.generator_with(device, 0, &conditioning, spec.generator_options())?;
    let file = match weights {
        Weights::Averaged if spec.ema.is_some() => GENERATOR_EMA,
        _ => GENERATOR,
    };
    let generator = checkpoint::load_module(generator, &dir.join(file))?;
    Ok(LoadedGenerator {
        generator,
        sampler: Sampler::new(arch.latent_dim(), arch.sample_shape()),
        class_names: spec.class_names.clone(),
        spec,
    })
}

/// Writes samples from the checkpoint at `path` as `options` asks: one PNG per sample,
/// `samples.npy` (and `labels.npy`), then `grid.png`; for 2-D toy models `points.csv` and
/// `scatter.png`.
pub fn generate(
    path: &Path,
    options: &GenerateOptions,
    device: &Device,
) -> Result<Generated, TrainError> {
    for (key, value) in [
        ("--count", options.count),
        ("--scale", options.scale as usize),
    ] {
        if value == 0 {
            return Err(TrainError::Invalid {
                key,
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
    }
    let dir = resolve_checkpoint(path)?;
    let LoadedGenerator {
        generator,
        sampler,
        class_names: names,
        spec,
    } = load_generator(&dir, device, options.weights)?.for_sampling(&dir)?;
    let grid = inputs(options, sampler.latent_dim(), &names)?;
    let samples = sampler.generate_from(&generator, device, &grid.noise, grid.labels.as_deref());
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|e| TrainError::write(out, e))?;
    let toy = spec.data.toy();
    let files = match toy {
        Some(dist) => write_points(out, &samples, &dist.modes())?,
        None => write_images(out, &samples, &sampler, &grid, options.scale)?,
    };
    Ok(Generated {
        checkpoint: dir,
        files,
    })
}

/// `points.csv` and `scatter.png` of 2-D samples.
fn write_points(
    out: &Path,
    samples: &[f32],
    modes: &[[f32; 2]],
) -> Result<Vec<PathBuf>, TrainError> {
    let points = points(samples);
    let csv = out.join("points.csv");
    render::points_csv(&csv, &points)?;
    let plot = out.join("scatter.png");
    render::scatter(&plot, &points, modes, "generated points")?;
    Ok(vec![csv, plot])
}

/// One PNG per sample at its own size (times `scale`), the arrays, and the grid.
fn write_images(
    out: &Path,
    samples: &[f32],
    sampler: &Sampler,
    grid: &GridInputs,
    scale: u32,
) -> Result<Vec<PathBuf>, TrainError> {
    let [c, h, w] = sampler.shape();
    let item = c * h * w;
    let count = samples.len() / item;
    let mut files = Vec::with_capacity(count + 3);
    for (i, sample) in samples.chunks_exact(item).enumerate() {
        let image = sample_image(sample, [c, h, w], scale);
        let file = out.join(format!("sample-{i:05}.png"));
        write_png(&file, &image)?;
        files.push(file);
    }
    let npy = out.join("samples.npy");
    write_npy(
        &npy,
        &[count as u64, c as u64, h as u64, w as u64],
        samples.iter().copied(),
    )?;
    files.push(npy);
    if let Some(labels) = &grid.labels {
        let npy = out.join("labels.npy");
        write_npy(
            &npy,
            &[labels.len() as u64],
            labels.iter().map(|&l| l as i64),
        )?;
        files.push(npy);
    }
    let file = out.join("grid.png");
    let rows = render::sample_rows(samples, [count, c, h, w], grid.columns);
    write_png(&file, &rows.into())?;
    files.push(file);
    Ok(files)
}

/// One `[C, H, W]` sample in `[-1, 1]` as an 8-bit grey (C = 1) or RGB image, enlarged by
/// `scale` with nearest-neighbour sampling.
pub fn sample_image(sample: &[f32], [c, h, w]: [usize; 3], scale: u32) -> DynamicImage {
    let to_u8 = |v: f32| ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8;
    let plane = h * w;
    let image = if c >= 3 {
        let pixels = (0..plane)
            .flat_map(|p| [0, 1, 2].map(|k| to_u8(sample[k * plane + p])))
            .collect();
        RgbImage::from_raw(w as u32, h as u32, pixels).map(DynamicImage::ImageRgb8)
    } else {
        let pixels = sample[..plane].iter().map(|&v| to_u8(v)).collect();
        GrayImage::from_raw(w as u32, h as u32, pixels).map(DynamicImage::ImageLuma8)
    }
    .unwrap_or_default();
    match scale {
        1 => image,
        s => image.resize_exact(w as u32 * s, h as u32 * s, FilterType::Nearest),
    }
}

/// Writes `values` as a NumPy array of `shape`.
fn write_npy<T: npyz::AutoSerialize>(
    path: &Path,
    shape: &[u64],
    values: impl IntoIterator<Item = T>,
) -> Result<(), TrainError> {
    use npyz::WriterBuilder;
    let mut bytes = Vec::new();
    let written = (|| {
        let mut writer = npyz::WriteOptions::<T>::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut bytes)
            .begin_nd()?;
        writer.extend(values)?;
        writer.finish()
    })();
    written.map_err(|e| TrainError::write(path, e))?;
    write_atomic(path, &bytes)
}
