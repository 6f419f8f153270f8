//! Using a trained inpainter: `ganforge inpaint` fills the holes of pictures, each given with
//! a mask picture (white where the picture is missing). The known pixels come back as they
//! were; only the hole is generated.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use ganforge_data::{ColorMode, find_images, picture_dimensions, read_image, read_mask};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::error::TrainError;
use crate::fsio::write_png;
use crate::generate::{Weights, sample_image};
use crate::translate::Translator;

/// How to inpaint.
#[derive(Debug, Clone)]
pub struct InpaintOptions {
    /// Where the result goes: a PNG file for one picture, a directory for a directory.
    pub out: PathBuf,
    /// Seed of the generator's dropout masks.
    pub seed: u64,
    /// Which of the checkpoint's generators to use.
    pub weights: Weights,
}

/// What `inpaint` wrote.
#[derive(Debug, Clone)]
pub struct Inpainted {
    /// The checkpoint directory used.
    pub checkpoint: PathBuf,
    /// One filled picture per input picture.
    pub files: Vec<PathBuf>,
}

/// A picture, its mask and where its filled copy goes.
struct Job {
    picture: PathBuf,
    mask: PathBuf,
    out: PathBuf,
}

/// Fills the holes of `image` marked by `mask` with the inpainter of the checkpoint at `path`.
/// `image` is a picture and `mask` a mask picture of the same size, written to the file
/// `options.out`; or `image` is a directory, `mask` a directory holding a mask of the same
/// relative name for each picture (or one mask picture for all), written under the directory
/// `options.out`. Pictures are read like training images (their centred square, resized to
/// the network's side), so the output has the network's side.
pub fn inpaint(
    path: &Path,
    image: &Path,
    mask: &Path,
    options: &InpaintOptions,
    device: &Device,
) -> Result<Inpainted, TrainError> {
    let translator = Translator::load(path, device, options.weights)?;
    if !translator.pairs.masked {
        return Err(TrainError::checkpoint(
            &translator.checkpoint,
            "its generator translates whole pictures, it does not fill holes: use \
             `ganforge translate`",
        ));
    }
    let color = translator.picture_color().ok_or_else(|| {
        TrainError::checkpoint(
            &translator.checkpoint,
            "its pictures have neither 1 nor 3 channels",
        )
    })?;
    let jobs = jobs(image, mask, &options.out)?;
    let size = translator.image_size();
    let shape = translator.loaded.sampler.shape();
    let mut rng = Pcg64Mcg::seed_from_u64(options.seed);
    let mut files = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let source = masked_source(job, size, color)?;
        let filled = translator.translate(&source, &mut rng, device);
        if let Some(parent) = job.out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| TrainError::write(parent, e))?;
        }
        write_png(&job.out, &sample_image(&filled, shape, 1))?;
        files.push(job.out.clone());
    }
    Ok(Inpainted {
        checkpoint: translator.checkpoint,
        files,
    })
}

/// The pictures to fill: one, or every picture under a directory with its mask.
fn jobs(image: &Path, mask: &Path, out: &Path) -> Result<Vec<Job>, TrainError> {
    if !mask.exists() {
        return Err(TrainError::invalid(
            "--mask",
            mask.display(),
            "does not exist",
        ));
    }
    if image.is_file() {
        if mask.is_dir() {
            return Err(TrainError::invalid(
                "--mask",
                mask.display(),
                "is a directory: one picture takes one mask picture",
            ));
        }
        return Ok(vec![Job {
            picture: image.to_path_buf(),
            mask: mask.to_path_buf(),
            out: out.to_path_buf(),
        }]);
    }
    if !image.is_dir() {
        return Err(TrainError::invalid(
            "--image",
            image.display(),
            "does not exist",
        ));
    }
    find_images(image)?
        .into_iter()
        .map(|picture| {
            let name = picture
                .strip_prefix(image)
                .unwrap_or(&picture)
                .to_path_buf();
            let mask = match mask.is_dir() {
                true => mask_for(mask, &name)?,
                false => mask.to_path_buf(),
            };
            let out = out.join(&name).with_extension("png");
            Ok(Job { picture, mask, out })
        })
        .collect()
}

/// The mask under `dir` with the relative name `name`, whatever its picture extension.
fn mask_for(dir: &Path, name: &Path) -> Result<PathBuf, TrainError> {
    ["png", "jpg", "jpeg"]
        .iter()
        .map(|ext| dir.join(name).with_extension(ext))
        .chain([dir.join(name)])
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            TrainError::invalid(
                "--mask",
                dir.display(),
                format!("holds no mask for {}", name.display()),
            )
        })
}

/// The network's source for a job: the picture with its hole set to 0, then the mask (1
/// known, 0 missing), `[C + 1, S, S]`. Refuses a mask whose size differs from the picture's.
fn masked_source(job: &Job, size: usize, color: ColorMode) -> Result<Vec<f32>, TrainError> {
    let picture_size = picture_dimensions(&job.picture)?;
    let mask_size = picture_dimensions(&job.mask)?;
    if picture_size != mask_size {
        return Err(TrainError::invalid(
            "--mask",
            job.mask.display(),
            format!(
                "is {}x{} pixels; its picture {} is {}x{}",
                mask_size.0,
                mask_size.1,
                job.picture.display(),
                picture_size.0,
                picture_size.1
            ),
        ));
    }
    let mut source = read_image(&job.picture, size, color)?;
    let known = read_mask(&job.mask, size)?;
    for channel in source.chunks_exact_mut(known.len()) {
        channel.iter_mut().zip(&known).for_each(|(v, &k)| *v *= k);
    }
    source.extend(known);
    Ok(source)
}
