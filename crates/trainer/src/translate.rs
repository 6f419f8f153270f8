//! Using a trained image-to-image generator: `ganforge translate` translates pictures, and
//! with `--report` scores the generator on held-out pairs (L1, PSNR and SSIM of each
//! translation against its target, averaged over the pairs).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use ganforge_data::{ColorMode, find_images, read_image};
use ganforge_metrics::{
    Features, GaussianStats, ImagePair, MetricsError, frechet_distance, mean_absolute_error, psnr,
    ssim,
};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

use crate::classify;
use crate::error::TrainError;
use crate::fsio::{write_atomic, write_png};
use crate::generate::{LoadedGenerator, Weights, load_generator, resolve_checkpoint, sample_image};
use crate::hooks::{FixedPairs, pick_items};
use crate::objective::{PairShape, dropout_masks};
use crate::spec::{DataSpec, SeedStream, derive_seed};

/// Pictures translated per forward pass.
const CHUNK: usize = 64;
/// Width of a value range `[-1, 1]`, for PSNR and SSIM.
const DATA_RANGE: f64 = 2.0;
/// Pairs shown in a report's grid.
const REPORT_GRID: usize = 16;

/// How to translate.
#[derive(Debug, Clone)]
pub struct TranslateOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Seed of the generator's dropout masks.
    pub seed: u64,
    /// Which of the checkpoint's generators to use.
    pub weights: Weights,
}

/// A checkpoint's translating generator, with how its items split.
pub(crate) struct Translator {
    pub(crate) loaded: LoadedGenerator,
    pub(crate) pairs: PairShape,
    pub(crate) checkpoint: PathBuf,
}

impl Translator {
    /// Loads the generator of the checkpoint at `path`; refuses one that does not translate.
    pub(crate) fn load(path: &Path, device: &Device, weights: Weights) -> Result<Self, TrainError> {
        let checkpoint = resolve_checkpoint(path)?;
        let loaded = load_generator(&checkpoint, device, weights)?;
        let pairs = loaded.spec.pair_shape().ok_or_else(|| {
            TrainError::checkpoint(
                &checkpoint,
                "its generator makes images from noise: use `ganforge generate`",
            )
        })?;
        Ok(Self {
            loaded,
            pairs,
            checkpoint,
        })
    }

    /// Grey or RGB: the pictures it takes (its sources, without an inpainter's mask).
    pub(crate) fn picture_color(&self) -> Option<ColorMode> {
        ColorMode::from_channels(self.pairs.source_channels - usize::from(self.pairs.masked))
    }

    /// Side of the images it translates.
    pub(crate) fn image_size(&self) -> usize {
        self.loaded.sampler.shape()[1]
    }

    /// Translations `[N, C, S, S]` of `sources`, with dropout masks drawn from `rng`.
    pub(crate) fn translate(
        &self,
        sources: &[f32],
        rng: &mut Pcg64Mcg,
        device: &Device,
    ) -> Vec<f32> {
        let sampler = &self.loaded.sampler;
        let [_, h, w] = sampler.shape();
        let count = sources.len() / (self.pairs.source_channels * h * w);
        let noise = dropout_masks(rng, count * sampler.latent_dim(), self.pairs.dropout);
        sampler.translate_from(&self.loaded.generator, device, sources, self.pairs, &noise)
    }
}

/// What `translate` wrote.
#[derive(Debug, Clone)]
pub struct Translations {
    /// The checkpoint directory used.
    pub checkpoint: PathBuf,
    /// One translation per input picture.
    pub files: Vec<PathBuf>,
}

/// Translates the picture `input`, or every picture under the directory `input`, with the
/// generator of the checkpoint at `path`; writes each translation as a PNG named after its
/// picture (its path below `input`) under `options.out`.
pub fn translate(
    path: &Path,
    input: &Path,
    options: &TranslateOptions,
    device: &Device,
) -> Result<Translations, TrainError> {
    let translator = Translator::load(path, device, options.weights)?;
    let color = match translator.picture_color() {
        Some(color) if !translator.pairs.masked => color,
        _ => {
            return Err(TrainError::invalid(
                "--input",
                input.display(),
                "this generator fills holes (its sources are a picture and a mask): use \
                 `ganforge inpaint`",
            ));
        }
    };
    let (root, pictures) = match input.is_dir() {
        true => (input.to_path_buf(), find_images(input)?),
        false if input.is_file() => (
            input.parent().map(Path::to_path_buf).unwrap_or_default(),
            vec![input.to_path_buf()],
        ),
        false => {
            return Err(TrainError::invalid(
                "--input",
                input.display(),
                "does not exist",
            ));
        }
    };
    let size = translator.image_size();
    let shape = translator.loaded.sampler.shape();
    let mut rng = Pcg64Mcg::seed_from_u64(options.seed);
    let mut files = Vec::with_capacity(pictures.len());
    for chunk in pictures.chunks(CHUNK) {
        let mut sources = Vec::new();
        for picture in chunk {
            sources.extend(read_image(picture, size, color)?);
        }
        let outputs = translator.translate(&sources, &mut rng, device);
        let per_image = shape.iter().product::<usize>();
        for (picture, output) in chunk.iter().zip(outputs.chunks_exact(per_image)) {
            let name = picture.strip_prefix(&root).unwrap_or(picture);
            let file = options.out.join(name).with_extension("png");
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).map_err(|e| TrainError::write(parent, e))?;
            }
            write_png(&file, &sample_image(output, shape, 1))?;
            files.push(file);
        }
    }
    Ok(Translations {
        checkpoint: translator.checkpoint,
        files,
    })
}

/// Where `report` finds its held-out pairs and how many it scores.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Held-out pairs in pix2pix's aligned format (for an inpainter, a folder of pictures
    /// that get holes drawn as in training); the run's own held-out split when `None`.
    pub pairs: Option<PathBuf>,
    /// Pairs scored at most.
    pub count: usize,
    /// Output directory (`report.json`, `pairs.png`).
    pub out: PathBuf,
    /// Seed of the generator's dropout masks.
    pub seed: u64,
    /// Which of the checkpoint's generators to use.
    pub weights: Weights,
    /// A dataset classifier (`ganforge classify train`) in whose features the translations
    /// are compared with the targets (Fréchet distance), if any.
    pub classifier: Option<PathBuf>,
}

/// A translator's scores on held-out pairs, each the mean over the pairs.
#[derive(Debug, Clone, Serialize)]
pub struct TranslationReport {
    /// The checkpoint directory used.
    pub checkpoint: PathBuf,
    /// Pairs scored.
    pub pairs: usize,
    /// Where the scores are taken: `image` (every pixel), or `hole` for an inpainter (the
    /// missing pixels alone).
    pub region: &'static str,
    /// Mean absolute difference of translation and target (values in `[-1, 1]`).
    pub l1: f64,
    /// Peak signal-to-noise ratio in dB.
    pub psnr_db: f64,
    /// Structural similarity.
    pub ssim: f64,
    /// For an inpainter, the same scores of the baseline that fills each hole with the mean
    /// colour of the picture's known pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_fill: Option<Quality>,
    /// Fréchet distance of the translations to the targets in the classifier's features,
    /// when a classifier was given.
    pub fid_classifier: Option<f64>,
}

/// Scores the generator of the checkpoint at `path` on held-out pairs and writes
/// `report.json` and `pairs.png` (sources, translations and targets) under `options.out`.
pub fn report(
    path: &Path,
    options: &ReportOptions,
    device: &Device,
) -> Result<TranslationReport, TrainError> {
    if options.count == 0 {
        return Err(TrainError::invalid("--count", 0, "must be at least 1"));
    }
    let translator = Translator::load(path, device, options.weights)?;
    let spec = &translator.loaded.spec;
    let data = match &options.pairs {
        Some(dir) if translator.pairs.masked => held_out_pictures(dir, spec, &translator)?,
        Some(dir) => aligned_pairs(
            dir,
            translator.pairs.source_channels,
            translator.image_size(),
        )?,
        None => spec.data.held_out().ok_or_else(|| {
            TrainError::invalid(
                "--pairs",
                "none",
                "this run's data has no held-out split: give held-out pairs in pix2pix's \
                 aligned format with --pairs DIR",
            )
        })?,
    };
    let dataset = data.open(derive_seed(spec.seed, SeedStream::Data))?;
    if dataset.item_shape() != spec.architecture.item_shape() {
        return Err(TrainError::invalid(
            "--pairs",
            format!("{:?}", dataset.item_shape()),
            format!(
                "the generator's pairs are {:?}",
                spec.architecture.item_shape()
            ),
        ));
    }
    let count = options.count.min(dataset.len());
    let pairs = FixedPairs::spread(dataset.as_ref(), count, translator.pairs)?;
    let mut rng = Pcg64Mcg::seed_from_u64(options.seed);
    let outputs = translator.translate(&pairs.sources, &mut rng, device);
    let shape = translator.loaded.sampler.shape();
    let holes = hole_masks(&pairs, shape);
    let scores = score(&outputs, &pairs.targets, holes.as_deref(), shape)?;
    let mean_fill = match &holes {
        Some(holes) => Some(score(
            &mean_fill(&pairs, shape),
            &pairs.targets,
            Some(holes),
            shape,
        )?),
        None => None,
    };
    let fid_classifier = match &options.classifier {
        Some(dir) => Some(classifier_distance(
            dir,
            &outputs,
            &pairs.targets,
            shape,
            device,
        )?),
        None => None,
    };
    let report = TranslationReport {
        checkpoint: translator.checkpoint.clone(),
        pairs: count,
        region: if translator.pairs.masked {
            "hole"
        } else {
            "image"
        },
        l1: scores.l1,
        psnr_db: scores.psnr_db,
        ssim: scores.ssim,
        mean_fill,
        fid_classifier,
    };
    write_report(&options.out, &report, &pairs, &outputs, shape)?;
    Ok(report)
}

/// The pictures under `dir` with holes drawn as the inpainter's run draws them.
fn held_out_pictures(
    dir: &Path,
    spec: &crate::spec::RunSpec,
    translator: &Translator,
) -> Result<DataSpec, TrainError> {
    let DataSpec::TaskPairs { task, .. } = &spec.data else {
        return Err(TrainError::invalid(
            "--pairs",
            dir.display(),
            "this inpainter's run made no holes of its own to draw",
        ));
    };
    let color = translator.picture_color().ok_or_else(|| {
        TrainError::invalid("--pairs", dir.display(), "pictures hold 1 or 3 channels")
    })?;
    Ok(DataSpec::TaskPairs {
        images: Box::new(DataSpec::ImageFolder {
            dir: dir.to_path_buf(),
            image_size: translator.image_size(),
            color,
        }),
        task: *task,
        pad_to: None,
    })
}

/// Aligned pairs under `dir` whose sources have `source_channels` channels (1 or 3, both
/// halves alike).
fn aligned_pairs(dir: &Path, source_channels: usize, size: usize) -> Result<DataSpec, TrainError> {
    let color = ColorMode::from_channels(source_channels).ok_or_else(|| {
        TrainError::invalid(
            "--pairs",
            dir.display(),
            format!(
                "this generator's sources have {source_channels} channels; aligned pictures \
                 hold 1 or 3"
            ),
        )
    })?;
    Ok(DataSpec::AlignedPairs {
        dir: dir.to_path_buf(),
        image_size: size,
        color,
    })
}

/// Mean scores of images against their targets.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Quality {
    /// Mean absolute difference (values in `[-1, 1]`).
    pub l1: f64,
    /// Peak signal-to-noise ratio in dB.
    pub psnr_db: f64,
    /// Structural similarity.
    pub ssim: f64,
}

/// Mean L1, PSNR and SSIM of each output against its target: over each pair's hole when
/// `holes` are given, over the whole image otherwise.
fn score(
    outputs: &[f32],
    targets: &[f32],
    holes: Option<&[Vec<bool>]>,
    shape: [usize; 3],
) -> Result<Quality, TrainError> {
    let per_image = shape.iter().product::<usize>();
    let mut sums = [0.0; 3];
    let mut n = 0;
    for (i, (output, target)) in outputs
        .chunks_exact(per_image)
        .zip(targets.chunks_exact(per_image))
        .enumerate()
    {
        let pair = ImagePair {
            output,
            target,
            shape,
            mask: holes.map(|h| &h[i][..]),
        };
        sums[0] += mean_absolute_error(pair).map_err(metric_error)?;
        // Identical images have infinite PSNR; 100 dB stands for them in the mean.
        sums[1] += psnr(pair, DATA_RANGE).map_err(metric_error)?.min(100.0);
        sums[2] += ssim(pair, DATA_RANGE).map_err(metric_error)?;
        n += 1;
    }
    let [l1, psnr_db, ssim] = sums.map(|s| s / n.max(1) as f64);
    Ok(Quality { l1, psnr_db, ssim })
}

/// Each masked source's hole (`true` where missing), `[H * W]` per pair; `None` unless the
/// pairs are masked.
fn hole_masks(pairs: &FixedPairs, [c, h, w]: [usize; 3]) -> Option<Vec<Vec<bool>>> {
    let plane = h * w;
    pairs.shape.masked.then(|| {
        pairs
            .sources
            .chunks_exact((c + 1) * plane)
            .map(|source| source[c * plane..].iter().map(|&m| m < 0.5).collect())
            .collect()
    })
}

/// The baseline inpainting: each masked source with its hole filled, channel by channel,
/// with the mean of its known pixels.
fn mean_fill(pairs: &FixedPairs, [c, h, w]: [usize; 3]) -> Vec<f32> {
    let plane = h * w;
    let mut out = Vec::with_capacity(pairs.targets.len());
    for source in pairs.sources.chunks_exact((c + 1) * plane) {
        let (picture, known) = source.split_at(c * plane);
        let count = known.iter().filter(|&&m| m >= 0.5).count().max(1) as f32;
        for channel in picture.chunks_exact(plane) {
            let sum: f32 = channel
                .iter()
                .zip(known)
                .filter(|(_, m)| **m >= 0.5)
                .map(|(v, _)| v)
                .sum();
            let mean = sum / count;
            out.extend(
                channel
                    .iter()
                    .zip(known)
                    .map(|(&v, &m)| if m >= 0.5 { v } else { mean }),
            );
        }
    }
    out
}

/// The Fréchet distance between `outputs` and `targets` (`[N, C, H, W]` each) in the
/// features of the classifier saved in `dir`; images larger than its input are cropped to it
/// around their centre (28x28 digits padded to 32x32 come back whole).
fn classifier_distance(
    dir: &Path,
    outputs: &[f32],
    targets: &[f32],
    shape: [usize; 3],
    device: &Device,
) -> Result<f64, TrainError> {
    let (model, info) = classify::load(dir, device)?;
    let [c, h, w] = shape;
    let [ci, hi, wi] = info.shape;
    if ci != c || hi > h || wi > w {
        return Err(TrainError::invalid(
            "--classifier",
            dir.display(),
            format!("it takes {ci}x{hi}x{wi} images; the translations are {c}x{h}x{w}"),
        ));
    }
    let stats = |values: &[f32]| -> Result<GaussianStats, TrainError> {
        let cropped = crop_centre(values, shape, [hi, wi]);
        let (features, dim) = classify::features(&model, &cropped, info.shape, device);
        let features = Features::from_f32(&features, dim).map_err(metric_error)?;
        GaussianStats::of(&features).map_err(metric_error)
    };
    frechet_distance(&stats(outputs)?, &stats(targets)?).map_err(metric_error)
}

fn metric_error(e: MetricsError) -> TrainError {
    TrainError::invalid("--report", "pairs", e.to_string())
}

/// The centred `[C, h, w]` window of each `[C, H, W]` image of `values`.
fn crop_centre(values: &[f32], [c, h, w]: [usize; 3], [hi, wi]: [usize; 2]) -> Vec<f32> {
    if [hi, wi] == [h, w] {
        return values.to_vec();
    }
    let (top, left) = ((h - hi) / 2, (w - wi) / 2);
    let mut out = Vec::with_capacity(values.len() / (h * w) * hi * wi);
    for plane in values.chunks_exact(h * w) {
        for row in plane.chunks_exact(w).skip(top).take(hi) {
            out.extend_from_slice(&row[left..left + wi]);
        }
    }
    debug_assert_eq!(out.len() % (c * hi * wi), 0);
    out
}

/// `report.json` and the grid of pairs spread over those scored.
fn write_report(
    out: &Path,
    report: &TranslationReport,
    pairs: &FixedPairs,
    outputs: &[f32],
    [c, h, w]: [usize; 3],
) -> Result<(), TrainError> {
    std::fs::create_dir_all(out).map_err(|e| TrainError::write(out, e))?;
    let json = serde_json::to_vec_pretty(report)
        .map_err(|e| TrainError::write(out.join("report.json"), std::io::Error::other(e)))?;
    write_atomic(&out.join("report.json"), &json)?;
    let shown = REPORT_GRID.min(report.pairs);
    let indices: Vec<usize> = (0..shown).map(|k| k * report.pairs / shown).collect();
    let shown_outputs = pick_items(outputs, c * h * w, &indices);
    let grid = pairs
        .subset(&indices, [c, h, w])
        .grid(&shown_outputs, [c, h, w]);
    write_png(&out.join("pairs.png"), &grid.into())
}
