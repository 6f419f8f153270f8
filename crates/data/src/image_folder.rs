//! A folder of PNG/JPEG pictures as a dataset: class sub-folders become labels, every picture
//! is resized (shorter side to the target) and centre-cropped to a square.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use image::imageops::FilterType;

use crate::{DataError, Dataset};

/// Colour handling of [`ImageFolder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColorMode {
    /// One channel (luma).
    Grey,
    /// Three channels.
    Rgb,
}

impl ColorMode {
    /// The mode of pictures with `channels` channels: 1 grey, 3 RGB, otherwise none.
    pub fn from_channels(channels: usize) -> Option<Self> {
        match channels {
            1 => Some(ColorMode::Grey),
            3 => Some(ColorMode::Rgb),
            _ => None,
        }
    }

    /// Number of channels.
    pub fn channels(self) -> usize {
        match self {
            ColorMode::Grey => 1,
            ColorMode::Rgb => 3,
        }
    }
}

/// Pictures under a directory. Decoded pictures are kept in memory after first use.
#[derive(Debug)]
pub struct ImageFolder {
    files: Vec<(PathBuf, Option<u32>)>,
    classes: Vec<String>,
    size: usize,
    color: ColorMode,
    decoded: Vec<OnceLock<Vec<u8>>>,
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .map(|entry| entry.map(|e| e.path()).map_err(|e| DataError::io(dir, e)))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    Ok(entries)
}

fn collect_images(
    dir: &Path,
    label: Option<u32>,
    out: &mut Vec<(PathBuf, Option<u32>)>,
) -> Result<(), DataError> {
    for path in sorted_entries(dir)? {
        if path.is_dir() {
            collect_images(&path, label, out)?;
        } else if is_image(&path) {
            out.push((path, label));
        }
    }
    Ok(())
}

impl ImageFolder {
    /// Indexes the pictures under `dir`. Pictures directly in `dir` have no label; each
    /// sub-folder is a class (sorted by name), holding pictures at any depth.
    pub fn open(dir: &Path, image_size: usize, color: ColorMode) -> Result<Self, DataError> {
        if !dir.is_dir() {
            return Err(DataError::MissingDirectory {
                path: dir.to_path_buf(),
            });
        }
        if image_size == 0 {
            return Err(DataError::Invalid("image size must be at least 1".into()));
        }
        let mut files = Vec::new();
        let mut classes = Vec::new();
        for path in sorted_entries(dir)? {
            if path.is_dir() {
                let before = files.len();
                collect_images(&path, Some(classes.len() as u32), &mut files)?;
                if files.len() > before {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    classes.push(name.unwrap_or_default());
                }
            } else if is_image(&path) {
                files.push((path, None));
            }
        }
        if files.is_empty() {
            return Err(DataError::corrupt(
                dir,
                "holds no .png, .jpg or .jpeg pictures",
            ));
        }
        let decoded = (0..files.len()).map(|_| OnceLock::new()).collect();
        Ok(Self {
            files,
            classes,
            size: image_size,
            color,
            decoded,
        })
    }

    /// Class names in label order (empty when the pictures are not in sub-folders).
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Decodes picture `index` into `[C, S, S]` bytes.
    fn decode(&self, index: usize) -> Result<Vec<u8>, DataError> {
        let path = &self.files[index].0;
        let img = image::open(path).map_err(|e| DataError::corrupt(path, e.to_string()))?;
        decode_square(img, self.size, self.color, path)
    }
}

/// The centred square of `img`, resized to `size` x `size`, as `[C, S, S]` bytes; `path`
/// names the picture in errors.
pub(crate) fn decode_square(
    img: image::DynamicImage,
    size: usize,
    color: ColorMode,
    path: &Path,
) -> Result<Vec<u8>, DataError> {
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return Err(DataError::corrupt(path, "picture has no pixels"));
    }
    let s = size as u32;
    // The centred square, then resized to `s`: the memory used is bounded by the picture
    // itself, however thin it is.
    let side = w.min(h);
    let img = img.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    let img = if side == s {
        img
    } else {
        img.resize_exact(s, s, FilterType::Triangle)
    };
    let plane = (s * s) as usize;
    Ok(match color {
        ColorMode::Grey => img.to_luma8().into_raw(),
        ColorMode::Rgb => {
            let hwc = img.to_rgb8().into_raw();
            let mut chw = vec![0u8; 3 * plane];
            for (i, px) in hwc.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    chw[c * plane + i] = px[c];
                }
            }
            chw
        }
    })
}

/// The pictures (`.png`, `.jpg`, `.jpeg`) under `dir` at any depth, sorted: an error when
/// `dir` is missing or holds none.
pub fn find_images(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingDirectory {
            path: dir.to_path_buf(),
        });
    }
    let mut files = Vec::new();
    collect_images(dir, None, &mut files)?;
    if files.is_empty() {
        return Err(DataError::corrupt(
            dir,
            "holds no .png, .jpg or .jpeg pictures",
        ));
    }
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

/// Width and height of the picture at `path`, read from its header.
pub fn picture_dimensions(path: &Path) -> Result<(u32, u32), DataError> {
    image::image_dimensions(path).map_err(|e| DataError::corrupt(path, e.to_string()))
}

/// The picture at `path` as an image of `color`, its centred square resized to `size` x
/// `size`: `[C, S, S]` values in `[-1, 1]`.
pub fn read_image(path: &Path, size: usize, color: ColorMode) -> Result<Vec<f32>, DataError> {
    if size == 0 {
        return Err(DataError::Invalid("image size must be at least 1".into()));
    }
    let img = image::open(path).map_err(|e| DataError::corrupt(path, e.to_string()))?;
    let bytes = decode_square(img, size, color, path)?;
    Ok(bytes.into_iter().map(|b| b as f32 / 127.5 - 1.0).collect())
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn item_shape(&self) -> [usize; 3] {
        [self.color.channels(), self.size, self.size]
    }

    fn num_classes(&self) -> Option<usize> {
        (!self.classes.is_empty()).then_some(self.classes.len())
    }

    fn class_names(&self) -> Option<Vec<String>> {
        let all_labelled = self.files.iter().all(|(_, label)| label.is_some());
        (all_labelled && !self.classes.is_empty()).then(|| self.classes.clone())
    }

    fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
        let slot = self.decoded.get(index).ok_or_else(|| {
            DataError::Invalid(format!(
                "item {index} out of range (dataset has {})",
                self.len()
            ))
        })?;
        let bytes = match slot.get() {
            Some(bytes) => bytes,
            None => {
                let bytes = self.decode(index)?;
                slot.get_or_init(|| bytes)
            }
        };
        for (o, &b) in out.iter_mut().zip(bytes) {
            *o = b as f32 / 127.5 - 1.0;
        }
        Ok(self.files[index].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(w, h, image::Rgb(rgb))
            .save(path)
            .unwrap();
    }

    #[test]
    fn classes_from_subfolders_resize_and_crop() {
        let dir = tempfile::tempdir().unwrap();
        save(&dir.path().join("cats/a.png"), 40, 20, [255, 0, 0]);
        save(&dir.path().join("dogs/b.jpg"), 16, 16, [0, 0, 255]);
        save(&dir.path().join("dogs/deep/c.PNG"), 10, 30, [0, 255, 0]);
        std::fs::write(dir.path().join("dogs/notes.txt"), "x").unwrap();
        let ds = ImageFolder::open(dir.path(), 8, ColorMode::Rgb).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.classes(), ["cats", "dogs"]);
        assert_eq!(ds.item_shape(), [3, 8, 8]);
        let mut out = vec![0.0; 3 * 64];
        assert_eq!(ds.write_item(0, &mut out).unwrap(), Some(0));
        assert_eq!((out[0], out[64], out[128]), (1.0, -1.0, -1.0)); // red, channel-major
        assert_eq!(ds.write_item(2, &mut out).unwrap(), Some(1));
        assert!(out[64] > 0.99 && out[0] < -0.99); // green

        let grey = ImageFolder::open(dir.path(), 4, ColorMode::Grey).unwrap();
        let mut out = vec![0.0; 16];
        grey.write_item(1, &mut out).unwrap();
        assert!(out.iter().all(|v| (-1.0..=1.0).contains(v)));
    }

    #[test]
    fn corrupt_picture_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("broken.png"), b"not a png").unwrap();
        let ds = ImageFolder::open(dir.path(), 8, ColorMode::Grey).unwrap();
        let err = ds.write_item(0, &mut [0.0; 64]).unwrap_err();
        assert!(err.to_string().contains("broken.png"), "{err}");
    }

    #[test]
    fn empty_or_missing_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ImageFolder::open(dir.path(), 8, ColorMode::Grey).is_err());
        assert!(matches!(
            ImageFolder::open(&dir.path().join("nope"), 8, ColorMode::Grey),
            Err(DataError::MissingDirectory { .. })
        ));
    }
}
