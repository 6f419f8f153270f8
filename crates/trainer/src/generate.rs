//! Sampling from a trained generator: `ganforge generate`.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::checkpoint::{self, CONFIG, GENERATOR};
use crate::config::RawConfig;
use crate::error::TrainError;
use crate::plan::architecture;
use crate::render;
use crate::run_dir::RESOLVED;
use crate::train::Sampler;

/// What `generate` wrote.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The checkpoint directory used.
    pub checkpoint: PathBuf,
    /// Files written, the grid (or scatter plot) last.
    pub files: Vec<PathBuf>,
}

/// The checkpoint directory behind `path`: a run directory (its latest checkpoint), a
/// checkpoint directory, or a file inside one.
pub fn resolve_checkpoint(path: &Path) -> Result<PathBuf, TrainError> {
    if !path.exists() {
        return Err(TrainError::checkpoint(path, "does not exist"));
    }
    let dir = if path.is_file() {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else if path.join(RESOLVED).is_file() {
        checkpoint::latest(&path.join("checkpoints"))
            .ok_or_else(|| TrainError::checkpoint(path, "this run has no checkpoint yet"))?
    } else {
        path.to_path_buf()
    };
    if !dir.join(GENERATOR).is_file() || !dir.join(CONFIG).is_file() {
        return Err(TrainError::checkpoint(
            &dir,
            format!("not a checkpoint: it needs {GENERATOR} and {CONFIG}"),
        ));
    }
    Ok(dir)
}

/// Writes `count` samples from the checkpoint at `path` into `out` as individual PNG files
/// plus `grid.png` (for 2-D toy models: `points.csv` and `scatter.png`).
pub fn generate(
    path: &Path,
    count: usize,
    out: &Path,
    seed: u64,
    device: &Device,
) -> Result<Generated, TrainError> {
    if count == 0 {
        return Err(TrainError::checkpoint(path, "--count must be at least 1"));
    }
    let dir = resolve_checkpoint(path)?;
    let config = RawConfig::load(&dir.join(CONFIG), &[])?;
    let arch = architecture(&config.model);
    let generator = arch.generator(device, 0)?;
    let generator = checkpoint::load_module(generator, &dir.join(GENERATOR))?;
    let sampler = Sampler::new(&arch);
    let samples = sampler.generate(
        &generator,
        device,
        &mut Pcg64Mcg::seed_from_u64(seed),
        count,
    );
    std::fs::create_dir_all(out).map_err(|e| TrainError::write(out, e))?;
    let [c, h, w] = sampler.shape();
    let mut files = Vec::new();
    if matches!(arch, ganforge_models::Architecture::Toy(..)) {
        let points: Vec<[f32; 2]> = samples.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        let csv = out.join("points.csv");
        render::points_csv(&csv, &points)?;
        files.push(csv);
        let modes = match config.data {
            crate::config::DataSection::ToyGrid25 { .. } => {
                ganforge_data::ToyDistribution::Grid25.modes()
            }
            _ => ganforge_data::ToyDistribution::Ring8.modes(),
        };
        let plot = out.join("scatter.png");
        render::scatter(&plot, &points, &modes, "generated points")?;
        files.push(plot);
    } else {
        let item = c * h * w;
        for (i, sample) in samples.chunks_exact(item).enumerate() {
            let img = render::sample_grid(sample, [1, c, h, w]);
            // A single-sample grid has a border; crop it to the sample itself.
            let (sw, sh) = (img.width() - 4, img.height() - 4);
            let cropped = image::imageops::crop_imm(&img, 2, 2, sw, sh).to_image();
            let file = out.join(format!("sample-{i:05}.png"));
            crate::fsio::write_png(&file, &cropped)?;
            files.push(file);
        }
        let grid = out.join("grid.png");
        crate::fsio::write_png(&grid, &render::sample_grid(&samples, [count, c, h, w]))?;
        files.push(grid);
    }
    Ok(Generated {
        checkpoint: dir,
        files,
    })
}
