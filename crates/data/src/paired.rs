//! Paired images for image-to-image translation: each item is a source image and the target
//! image a translation of it should produce.
//!
//! Pairs come from files (pix2pix's aligned format, [`AlignedPairs`]; two folders with
//! matching names, [`FolderPairs`]) or are made from any image dataset by a [`PairTask`]
//! ([`TaskPairs`]), so translation can be tried without a paired set. A task makes its pairs
//! from the image alone, or from the image, the seed and the item's index (the hole of
//! [`PairTask::Masked`]), so the same seed gives the same pairs.
//!
//! Every paired dataset is a [`Dataset`] whose items hold the source's channels followed by
//! the target's (`[C_source + C_target, H, W]`), so the batch loader serves pairs as it serves
//! images; [`PairedDataset::split`] tells where the source ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::image_folder::{ColorMode, decode_square, find_images};
use crate::masks::{HoleShape, draw_mask, splitmix64};
use crate::{DataError, Dataset};

/// A dataset of pairs: [`Dataset`] items are the source's channels, then the target's.
pub trait PairedDataset: Dataset {
    /// Channels of the source image; the remaining channels of an item are the target's.
    fn split(&self) -> usize;
}

/// A translation task made from single images.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairTask {
    /// Edges -> image: the source is the Sobel gradient magnitude of the image's luma, scaled
    /// by its largest value, drawn dark on white (one channel).
    Edges,
    /// Greyscale -> colour: the source is the luma of an RGB image (one channel).
    Colorize,
    /// Low resolution -> high: the source is the image averaged over `factor` x `factor`
    /// blocks and enlarged back (nearest neighbour); `factor` divides the image side.
    Upscale {
        /// Side of the averaged blocks.
        factor: usize,
    },
    /// Masked -> whole (inpainting): the source is the image with a hole of `shape` and
    /// size `hole` (pixels) set to 0, drawn from the seed and the item's index, followed by
    /// the mask (1 known, 0 missing) as one more channel.
    Masked {
        /// Size of the hole in pixels (a side, or a stroke's length), below the image side.
        hole: usize,
        /// Centre square, random rectangle or free-form strokes.
        #[serde(default)]
        shape: HoleShape,
    },
}

impl PairTask {
    /// Channels of the source made from an image with `channels` channels.
    pub fn source_channels(&self, channels: usize) -> usize {
        match self {
            PairTask::Edges | PairTask::Colorize => 1,
            PairTask::Upscale { .. } => channels,
            PairTask::Masked { .. } => channels + 1,
        }
    }

    /// Checks that the task can be made from images of `shape` `[C, H, W]`.
    fn check(&self, [channels, h, w]: [usize; 3]) -> Result<(), DataError> {
        let problem = match *self {
            PairTask::Colorize if channels != 3 => Some(format!(
                "colorize needs RGB images, these have {channels} channel(s)"
            )),
            PairTask::Upscale { factor } if factor < 2 || h % factor != 0 || w % factor != 0 => {
                Some(format!(
                    "upscale factor {factor} must be at least 2 and divide the image side ({h}x{w})"
                ))
            }
            PairTask::Masked { hole, .. } if hole == 0 || hole >= h.min(w) => Some(format!(
                "a hole of {hole} pixels must be at least 1 and below the image side ({h}x{w})"
            )),
            _ => None,
        };
        problem.map_or(Ok(()), |p| Err(DataError::Invalid(p)))
    }

    /// Writes the source made from `image` (`[C, H, W]`, values in `[-1, 1]`) into `out`.
    fn make_source(&self, image: &[f32], [c, h, w]: [usize; 3], place: u64, out: &mut [f32]) {
        let plane = h * w;
        match *self {
            PairTask::Edges => sobel_edges(&luma(image, c, plane), h, w, out),
            PairTask::Colorize => out.copy_from_slice(&luma(image, c, plane)),
            PairTask::Upscale { factor } => {
                for (src, dst) in image.chunks_exact(plane).zip(out.chunks_exact_mut(plane)) {
                    block_average(src, h, w, factor, dst);
                }
            }
            PairTask::Masked { hole, shape } => {
                let (masked, mask) = out.split_at_mut(c * plane);
                mask.copy_from_slice(&draw_mask(shape, hole, place, [h, w]));
                for (i, (dst, &src)) in masked.iter_mut().zip(image).enumerate() {
                    *dst = src * mask[i % plane];
                }
            }
        }
    }
}

/// ITU-R BT.601 luma of a `[C, H*W]` image (the image itself when it has one channel).
fn luma(image: &[f32], channels: usize, plane: usize) -> Vec<f32> {
    match channels {
        3 => (0..plane)
            .map(|i| 0.299 * image[i] + 0.587 * image[plane + i] + 0.114 * image[2 * plane + i])
            .collect(),
        _ => image[..plane].to_vec(),
    }
}

/// The Sobel gradient magnitude of `grey` (`[H, W]`, edges replicated), divided by its
/// largest value and written as `1 - 2 m`: white where flat, black on the strongest edge.
fn sobel_edges(grey: &[f32], h: usize, w: usize, out: &mut [f32]) {
    let at = |y: isize, x: isize| {
        let (y, x) = (y.clamp(0, h as isize - 1), x.clamp(0, w as isize - 1));
        grey[y as usize * w + x as usize]
    };
    for y in 0..h as isize {
        for x in 0..w as isize {
            let gx = at(y - 1, x + 1) + 2.0 * at(y, x + 1) + at(y + 1, x + 1)
                - at(y - 1, x - 1)
                - 2.0 * at(y, x - 1)
                - at(y + 1, x - 1);
            let gy = at(y + 1, x - 1) + 2.0 * at(y + 1, x) + at(y + 1, x + 1)
                - at(y - 1, x - 1)
                - 2.0 * at(y - 1, x)
                - at(y - 1, x + 1);
            out[y as usize * w + x as usize] = (gx * gx + gy * gy).sqrt();
        }
    }
    let strongest = out.iter().copied().fold(0.0f32, f32::max);
    for v in out.iter_mut() {
        let m = if strongest > 0.0 { *v / strongest } else { 0.0 };
        *v = 1.0 - 2.0 * m;
    }
}

/// `src` (`[H, W]`) averaged over `factor` x `factor` blocks, each block's pixels set to its
/// mean.
fn block_average(src: &[f32], h: usize, w: usize, factor: usize, dst: &mut [f32]) {
    for by in (0..h).step_by(factor) {
        for bx in (0..w).step_by(factor) {
            let pixels =
                || (by..by + factor).flat_map(move |y| (bx..bx + factor).map(move |x| y * w + x));
            let mean = pixels().map(|i| src[i]).sum::<f32>() / (factor * factor) as f32;
            pixels().for_each(|i| dst[i] = mean);
        }
    }
}

/// Pairs made from the images of a dataset by a [`PairTask`]; labels are the images'.
pub struct TaskPairs {
    images: Arc<dyn Dataset>,
    task: PairTask,
    seed: u64,
}

impl TaskPairs {
    /// `task`'s pairs of `images`, with holes placed by `seed`; rejects a task the images
    /// cannot give (colour from grey images, a factor or hole that does not fit).
    pub fn new(images: Arc<dyn Dataset>, task: PairTask, seed: u64) -> Result<Self, DataError> {
        task.check(images.item_shape())?;
        Ok(Self { images, task, seed })
    }
}

impl Dataset for TaskPairs {
    fn len(&self) -> usize {
        self.images.len()
    }

    fn item_shape(&self) -> [usize; 3] {
        let [c, h, w] = self.images.item_shape();
        [self.task.source_channels(c) + c, h, w]
    }

    fn num_classes(&self) -> Option<usize> {
        self.images.num_classes()
    }

    fn class_names(&self) -> Option<Vec<String>> {
        self.images.class_names()
    }

    fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
        let shape = self.images.item_shape();
        let (source, target) = out.split_at_mut(self.split() * shape[1] * shape[2]);
        let label = self.images.write_item(index, target)?;
        let place = splitmix64(self.seed) ^ index as u64;
        self.task.make_source(target, shape, place, source);
        Ok(label)
    }
}

impl PairedDataset for TaskPairs {
    fn split(&self) -> usize {
        self.task.source_channels(self.images.item_shape()[0])
    }
}

/// Images of another dataset centred on a larger square canvas of one value (MNIST's 28x28
/// digits on a 32x32 black canvas, for networks that halve the image down to one pixel).
pub struct Padded {
    images: Arc<dyn Dataset>,
    size: usize,
    value: f32,
}

impl Padded {
    /// `images` centred on `size` x `size` canvases filled with `value`; rejects a canvas
    /// smaller than the images.
    pub fn new(images: Arc<dyn Dataset>, size: usize, value: f32) -> Result<Self, DataError> {
        let [_, h, w] = images.item_shape();
        if size < h.max(w) {
            return Err(DataError::Invalid(format!(
                "cannot pad {h}x{w} images to a {size}x{size} canvas: it is smaller"
            )));
        }
        Ok(Self {
            images,
            size,
            value,
        })
    }
}

impl Dataset for Padded {
    fn len(&self) -> usize {
        self.images.len()
    }

    fn item_shape(&self) -> [usize; 3] {
        [self.images.item_shape()[0], self.size, self.size]
    }

    fn num_classes(&self) -> Option<usize> {
        self.images.num_classes()
    }

    fn class_names(&self) -> Option<Vec<String>> {
        self.images.class_names()
    }

    fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
        let [c, h, w] = self.images.item_shape();
        let mut image = vec![0.0; c * h * w];
        let label = self.images.write_item(index, &mut image)?;
        let (top, left) = ((self.size - h) / 2, (self.size - w) / 2);
        out.fill(self.value);
        for (channel, plane) in image.chunks_exact(h * w).enumerate() {
            for (y, row) in plane.chunks_exact(w).enumerate() {
                let start = (channel * self.size + top + y) * self.size + left;
                out[start..start + w].copy_from_slice(row);
            }
        }
        Ok(label)
    }
}

fn positive_size(image_size: usize) -> Result<(), DataError> {
    match image_size {
        0 => Err(DataError::Invalid("image size must be at least 1".into())),
        _ => Ok(()),
    }
}

/// Decoded pairs `[source; target]` as bytes, kept after first use.
struct PairCache {
    decoded: Vec<OnceLock<Vec<u8>>>,
}

impl PairCache {
    fn new(len: usize) -> Self {
        Self {
            decoded: (0..len).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Item `index` as values in `[-1, 1]`, decoding it with `decode` the first time.
    fn write(
        &self,
        index: usize,
        out: &mut [f32],
        decode: impl FnOnce() -> Result<Vec<u8>, DataError>,
    ) -> Result<(), DataError> {
        let slot = self.decoded.get(index).ok_or_else(|| {
            DataError::Invalid(format!(
                "item {index} out of range (dataset has {})",
                self.decoded.len()
            ))
        })?;
        let bytes = match slot.get() {
            Some(bytes) => bytes,
            None => {
                let bytes = decode()?;
                slot.get_or_init(|| bytes)
            }
        };
        for (o, &b) in out.iter_mut().zip(bytes) {
            *o = b as f32 / 127.5 - 1.0;
        }
        Ok(())
    }
}

/// pix2pix's aligned format: every picture under a directory holds the source (left half)
/// and the target (right half) side by side; each half is centre-cropped to a square and
/// resized to the image size.
pub struct AlignedPairs {
    files: Vec<PathBuf>,
    size: usize,
    color: ColorMode,
    cache: PairCache,
}

impl AlignedPairs {
    /// Indexes the pictures under `dir` (at any depth).
    pub fn open(dir: &Path, image_size: usize, color: ColorMode) -> Result<Self, DataError> {
        positive_size(image_size)?;
        let files = find_images(dir)?;
        let cache = PairCache::new(files.len());
        Ok(Self {
            files,
            size: image_size,
            color,
            cache,
        })
    }

    fn decode(&self, index: usize) -> Result<Vec<u8>, DataError> {
        let path = &self.files[index];
        let img = image::open(path).map_err(|e| DataError::corrupt(path, e.to_string()))?;
        let (w, h) = (img.width(), img.height());
        if w < 2 || h == 0 {
            return Err(DataError::corrupt(
                path,
                "picture is too small to hold two images side by side",
            ));
        }
        let half = w / 2;
        let mut bytes = decode_square(img.crop_imm(0, 0, half, h), self.size, self.color, path)?;
        bytes.extend(decode_square(
            img.crop_imm(half, 0, half, h),
            self.size,
            self.color,
            path,
        )?);
        Ok(bytes)
    }
}

impl Dataset for AlignedPairs {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn item_shape(&self) -> [usize; 3] {
        [2 * self.color.channels(), self.size, self.size]
    }

    fn num_classes(&self) -> Option<usize> {
        None
    }

    fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
        self.cache.write(index, out, || self.decode(index))?;
        Ok(None)
    }
}

impl PairedDataset for AlignedPairs {
    fn split(&self) -> usize {
        self.color.channels()
    }
}

/// Two directories `A/` (sources) and `B/` (targets) whose pictures pair up by file name
/// (the path below the directory, without the extension).
pub struct FolderPairs {
    pairs: Vec<(PathBuf, PathBuf)>,
    size: usize,
    source_color: ColorMode,
    target_color: ColorMode,
    cache: PairCache,
}

impl FolderPairs {
    /// Pairs the pictures of `sources` and `targets`; every picture must have its partner.
    pub fn open(
        sources: &Path,
        targets: &Path,
        image_size: usize,
        colors: [ColorMode; 2],
    ) -> Result<Self, DataError> {
        let by_name = |dir: &Path| -> Result<BTreeMap<PathBuf, PathBuf>, DataError> {
            Ok(find_images(dir)?
                .into_iter()
                .map(|path| {
                    let name = path.strip_prefix(dir).unwrap_or(&path).with_extension("");
                    (name, path)
                })
                .collect())
        };
        positive_size(image_size)?;
        let (a, mut b) = (by_name(sources)?, by_name(targets)?);
        let mut pairs = Vec::with_capacity(a.len());
        for (name, source) in a {
            let target = b.remove(&name).ok_or_else(|| {
                DataError::corrupt(&source, format!("has no partner in {}", targets.display()))
            })?;
            pairs.push((source, target));
        }
        if let Some(target) = b.into_values().next() {
            return Err(DataError::corrupt(
                &target,
                format!("has no partner in {}", sources.display()),
            ));
        }
        let cache = PairCache::new(pairs.len());
        Ok(Self {
            pairs,
            size: image_size,
            source_color: colors[0],
            target_color: colors[1],
            cache,
        })
    }

    fn decode(&self, index: usize) -> Result<Vec<u8>, DataError> {
        let (source, target) = &self.pairs[index];
        let open =
            |path: &PathBuf| image::open(path).map_err(|e| DataError::corrupt(path, e.to_string()));
        let mut bytes = decode_square(open(source)?, self.size, self.source_color, source)?;
        bytes.extend(decode_square(
            open(target)?,
            self.size,
            self.target_color,
            target,
        )?);
        Ok(bytes)
    }
}

impl Dataset for FolderPairs {
    fn len(&self) -> usize {
        self.pairs.len()
    }

    fn item_shape(&self) -> [usize; 3] {
        let channels = self.source_color.channels() + self.target_color.channels();
        [channels, self.size, self.size]
    }

    fn num_classes(&self) -> Option<usize> {
        None
    }

    fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
        self.cache.write(index, out, || self.decode(index))?;
        Ok(None)
    }
}

impl PairedDataset for FolderPairs {
    fn split(&self) -> usize {
        self.source_color.channels()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToyDataset;

    /// A 3 x 4 x 4 RGB "image" dataset: item `i` is a red square on a blue background whose
    /// brightness grows with `i`.
    struct Squares;

    impl Dataset for Squares {
        fn len(&self) -> usize {
            3
        }
        fn item_shape(&self) -> [usize; 3] {
            [3, 4, 4]
        }
        fn num_classes(&self) -> Option<usize> {
            Some(3)
        }
        fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
            for (i, v) in out.iter_mut().enumerate() {
                let (c, y, x) = (i / 16, i % 16 / 4, i % 4);
                let inside = (1..3).contains(&y) && (1..3).contains(&x);
                let on = matches!((c, inside), (0, true) | (2, false));
                *v = if on { 0.5 + 0.25 * index as f32 } else { -1.0 };
            }
            Ok(Some(index as u32))
        }
    }

    fn item(ds: &dyn Dataset, index: usize) -> (Vec<f32>, Option<u32>) {
        let mut out = vec![f32::NAN; ds.item_shape().iter().product()];
        let label = ds.write_item(index, &mut out).unwrap();
        (out, label)
    }

    #[test]
    fn every_task_keeps_the_image_as_target() {
        let (image, _) = item(&Squares, 1);
        for (task, source) in [
            (PairTask::Edges, 1),
            (PairTask::Colorize, 1),
            (PairTask::Upscale { factor: 2 }, 3),
            (
                PairTask::Masked {
                    hole: 2,
                    shape: HoleShape::Rectangle,
                },
                4,
            ),
        ] {
            let pairs = TaskPairs::new(Arc::new(Squares), task, 7).unwrap();
            assert_eq!(pairs.split(), source, "{task:?}");
            assert_eq!(pairs.item_shape(), [source + 3, 4, 4], "{task:?}");
            let (pair, label) = item(&pairs, 1);
            assert_eq!(label, Some(1));
            assert_eq!(&pair[source * 16..], &image[..], "{task:?}");
            assert!(pair.iter().all(|v| (-1.0..=1.0).contains(v)), "{task:?}");
        }
    }

    #[test]
    fn sources_are_what_each_task_says() {
        let (image, _) = item(&Squares, 2); // values 1.0 (on) and -1.0 (off)
        let source = |task| item(&TaskPairs::new(Arc::new(Squares), task, 0).unwrap(), 2).0;
        // Luma of red (1, -1, -1) and of blue (-1, -1, 1).
        let grey = source(PairTask::Colorize);
        assert!((grey[5] - (0.299 - 0.587 - 0.114)).abs() < 1e-6);
        assert!((grey[0] - (-0.299 - 0.587 + 0.114)).abs() < 1e-6);
        // Sobel: flat corners stay white, the square's border is drawn dark.
        let edges = source(PairTask::Edges);
        assert!(edges.iter().any(|&v| v == -1.0));
        assert!(edges[..16].iter().all(|&v| v <= 1.0));
        // 2x2 blocks of the red plane: each block holds one "on" pixel out of four.
        let low = source(PairTask::Upscale { factor: 2 });
        assert!((low[0] - (1.0 - 3.0) / 4.0).abs() < 1e-6);
        assert_eq!(low[0], low[5]);
        // The hole is zero in every channel, the mask says where, the rest is the image.
        let masked = source(PairTask::Masked {
            hole: 2,
            shape: HoleShape::Centre,
        });
        let mask = &masked[48..64];
        assert_eq!(mask.iter().filter(|&&m| m == 0.0).count(), 4);
        for (i, &m) in mask.iter().enumerate() {
            for c in 0..3 {
                let expected = if m == 1.0 { image[c * 16 + i] } else { 0.0 };
                assert_eq!(masked[c * 16 + i], expected);
            }
        }
    }

    #[test]
    fn holes_depend_on_seed_and_item_only() {
        let hole = |seed, index| {
            let pairs = TaskPairs::new(
                Arc::new(Squares),
                PairTask::Masked {
                    hole: 1,
                    shape: HoleShape::Rectangle,
                },
                seed,
            );
            item(&pairs.unwrap(), index).0[48..].to_vec()
        };
        assert_eq!(hole(5, 0), hole(5, 0));
        let places: std::collections::HashSet<_> = (0..3)
            .flat_map(|i| [hole(5, i), hole(6, i)])
            .map(|m| m.iter().position(|&v| v == 0.0))
            .collect();
        assert!(places.len() > 1, "holes never move: {places:?}");
    }

    #[test]
    fn impossible_tasks_are_refused_by_name() {
        let toy = || {
            Arc::new(ToyDataset::new(crate::ToyDistribution::Ring8, 10, 0).unwrap())
                as Arc<dyn Dataset>
        };
        let err = |images, task| TaskPairs::new(images, task, 0).err().unwrap().to_string();
        assert!(err(toy(), PairTask::Colorize).contains("RGB"));
        assert!(err(Arc::new(Squares), PairTask::Upscale { factor: 3 }).contains("factor 3"));
        assert!(
            err(
                Arc::new(Squares),
                PairTask::Masked {
                    hole: 4,
                    shape: HoleShape::Rectangle
                }
            )
            .contains("hole of 4")
        );
    }

    #[test]
    fn padding_centres_the_image() {
        let padded = Padded::new(Arc::new(Squares), 6, -1.0).unwrap();
        assert_eq!(padded.item_shape(), [3, 6, 6]);
        let (image, _) = item(&Squares, 2);
        let (canvas, label) = item(&padded, 2);
        assert_eq!(label, Some(2));
        for c in 0..3 {
            for y in 0..6 {
                for x in 0..6 {
                    let inside = (1..5).contains(&y) && (1..5).contains(&x);
                    let expected = if inside {
                        image[c * 16 + (y - 1) * 4 + x - 1]
                    } else {
                        -1.0
                    };
                    assert_eq!(canvas[c * 36 + y * 6 + x], expected);
                }
            }
        }
        assert!(Padded::new(Arc::new(Squares), 3, -1.0).is_err());
    }

    fn save(path: &Path, w: u32, h: u32, left: [u8; 3], right: [u8; 3]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let img = image::RgbImage::from_fn(w, h, |x, _| {
            image::Rgb(if x < w / 2 { left } else { right })
        });
        img.save(path).unwrap();
    }

    #[test]
    fn aligned_pictures_split_into_source_and_target() {
        let dir = tempfile::tempdir().unwrap();
        save(
            &dir.path().join("train/1.png"),
            16,
            8,
            [255, 0, 0],
            [0, 0, 255],
        );
        let pairs = AlignedPairs::open(dir.path(), 4, ColorMode::Rgb).unwrap();
        assert_eq!(
            (pairs.len(), pairs.split(), pairs.item_shape()),
            (1, 3, [6, 4, 4])
        );
        let (pair, label) = item(&pairs, 0);
        assert_eq!(label, None);
        assert_eq!(
            (pair[0], pair[2 * 16], pair[3 * 16], pair[5 * 16]),
            (1.0, -1.0, -1.0, 1.0)
        );
    }

    #[test]
    fn folder_pairs_match_by_name_and_refuse_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("A"), dir.path().join("B"));
        save(&a.join("x.png"), 4, 4, [255, 255, 255], [255, 255, 255]);
        save(&b.join("x.jpg"), 4, 4, [0, 0, 0], [0, 0, 0]);
        let pairs = FolderPairs::open(&a, &b, 4, [ColorMode::Grey, ColorMode::Rgb]).unwrap();
        assert_eq!((pairs.split(), pairs.item_shape()), (1, [4, 4, 4]));
        let (pair, _) = item(&pairs, 0);
        assert!(pair[..16].iter().all(|&v| v == 1.0));
        assert!(pair[16..].iter().all(|&v| v < -0.9));
        save(&b.join("y.png"), 4, 4, [0, 0, 0], [0, 0, 0]);
        let err = FolderPairs::open(&a, &b, 4, [ColorMode::Rgb; 2])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("y.png") && err.contains("no partner"), "{err}");
    }
}
