//! MNIST-style IDX files (LeCun et al.): big-endian header, then raw `u8` pixels or labels.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::download::RemoteFile;
use crate::{DataError, Dataset};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Which IDX dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdxKind {
    /// Handwritten digits (LeCun, Cortes, Burges).
    Mnist,
    /// Zalando's clothing images in MNIST's format.
    FashionMnist,
}

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// 60,000 training images.
    Train,
    /// 10,000 test images.
    Test,
}

/// Fashion-MNIST's class names, in label order (Xiao et al. 2017).
const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

impl IdxKind {
    /// The ten class names in label order: the digits for MNIST, the garments for
    /// Fashion-MNIST.
    pub fn class_names(self) -> Vec<String> {
        match self {
            IdxKind::Mnist => (0..10).map(|d| d.to_string()).collect(),
            IdxKind::FashionMnist => FASHION_CLASSES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The directory name under `$GANFORGE_DATA` and the cache.
    pub fn name(self) -> &'static str {
        match self {
            IdxKind::Mnist => "mnist",
            IdxKind::FashionMnist => "fashion-mnist",
        }
    }

    /// Base file names (without `.gz`) of the images and labels of `split`.
    pub fn file_names(self, split: Split) -> [&'static str; 2] {
        match split {
            Split::Train => ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
            Split::Test => ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
        }
    }

    /// Download mirrors, tried in order; each serves the gzipped files.
    pub fn mirrors(self) -> &'static [&'static str] {
        match self {
            IdxKind::Mnist => &[
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ],
            IdxKind::FashionMnist => &[
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            ],
        }
    }

    /// Standard system directories that may hold the files (Debian's dataset packages).
    pub fn system_dirs(self) -> Vec<PathBuf> {
        match self {
            IdxKind::Mnist => vec![],
            IdxKind::FashionMnist => vec![PathBuf::from("/usr/share/datasets/fashion-mnist")],
        }
    }

    /// The files of `split` with the SHA-256 of their decompressed contents.
    pub fn remote_files(self, split: Split) -> [RemoteFile; 2] {
        let [images, labels] = self.file_names(split);
        let [image_sha, label_sha] = match (self, split) {
            (IdxKind::Mnist, Split::Train) => [
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ],
            (IdxKind::Mnist, Split::Test) => [
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ],
            (IdxKind::FashionMnist, Split::Train) => [
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ],
            (IdxKind::FashionMnist, Split::Test) => [
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ],
        };
        [
            RemoteFile::new(format!("{images}.gz"), image_sha),
            RemoteFile::new(format!("{labels}.gz"), label_sha),
        ]
    }

    /// Paths of the two files of `split` in `dir`, plain or gzipped, if both exist.
    pub fn find_in(self, dir: &Path, split: Split) -> Option<[PathBuf; 2]> {
        let find = |base: &str| {
            [base.to_string(), format!("{base}.gz")]
                .into_iter()
                .map(|name| dir.join(name))
                .find(|p| p.is_file())
        };
        let [images, labels] = self.file_names(split);
        Some([find(images)?, find(labels)?])
    }
}

impl crate::locate::Findable for IdxKind {
    fn name(&self) -> &'static str {
        IdxKind::name(*self)
    }

    fn system_dirs(&self) -> Vec<PathBuf> {
        IdxKind::system_dirs(*self)
    }

    fn holds(&self, dir: &Path, split: Split) -> bool {
        self.find_in(dir, split).is_some()
    }

    fn wanted(&self, split: Split) -> String {
        let [images, labels] = self.file_names(split);
        format!("{images}[.gz] and {labels}[.gz]")
    }

    fn mirrors(&self) -> Vec<String> {
        IdxKind::mirrors(*self)
            .iter()
            .map(|m| m.to_string())
            .collect()
    }

    fn remote(&self, split: Split) -> Vec<RemoteFile> {
        self.remote_files(split).to_vec()
    }
}

/// Reads a whole file, decompressing it when it is gzipped (detected by its magic bytes).
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decompress_if_gz(raw).map_err(|e| DataError::corrupt(path, format!("bad gzip data: {e}")))
}

/// The most a compressed data file may expand to (the largest real one, MNIST's training
/// images, is 47 MB): a corrupt or hostile file cannot take unbounded memory.
pub(crate) const MAX_DECOMPRESSED: u64 = 1 << 30;

pub(crate) fn decompress_if_gz(raw: Vec<u8>) -> std::io::Result<Vec<u8>> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(1 << 26));
        GzDecoder::new(raw.as_slice())
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(&mut out)?;
        if out.len() as u64 > MAX_DECOMPRESSED {
            return Err(std::io::Error::other(format!(
                "expands to more than {MAX_DECOMPRESSED} bytes"
            )));
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checks an IDX images payload and returns `(count, rows, cols)`.
pub(crate) fn parse_images(path: &Path, bytes: &[u8]) -> Result<(usize, usize, usize), DataError> {
    if bytes.len() < 16 {
        return Err(DataError::corrupt(
            path,
            "truncated IDX header (need 16 bytes)",
        ));
    }
    let magic = be_u32(bytes, 0);
    if magic != IMAGES_MAGIC {
        return Err(DataError::corrupt(
            path,
            format!("not an IDX image file (magic {magic:#010x}, expected {IMAGES_MAGIC:#010x})"),
        ));
    }
    let (n, rows, cols) = (
        be_u32(bytes, 4) as usize,
        be_u32(bytes, 8) as usize,
        be_u32(bytes, 12) as usize,
    );
    let expected = n
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .and_then(|v| v.checked_add(16));
    if expected != Some(bytes.len()) || n == 0 || rows == 0 || cols == 0 {
        let expected = expected.map_or_else(|| "too many".to_string(), |e| e.to_string());
        return Err(DataError::corrupt(
            path,
            format!(
                "truncated or oversized: header says {n} images of {rows}x{cols} ({expected} \
                 bytes), file has {} bytes",
                bytes.len()
            ),
        ));
    }
    Ok((n, rows, cols))
}

/// Checks an IDX labels payload and returns the count.
pub(crate) fn parse_labels(path: &Path, bytes: &[u8]) -> Result<usize, DataError> {
    if bytes.len() < 8 {
        return Err(DataError::corrupt(
            path,
            "truncated IDX header (need 8 bytes)",
        ));
    }
    let magic = be_u32(bytes, 0);
    if magic != LABELS_MAGIC {
        return Err(DataError::corrupt(
            path,
            format!("not an IDX label file (magic {magic:#010x}, expected {LABELS_MAGIC:#010x})"),
        ));
    }
    let n = be_u32(bytes, 4) as usize;
    if bytes.len() != 8 + n {
        return Err(DataError::corrupt(
            path,
            format!(
                "truncated or oversized: header says {n} labels, file has {} label bytes",
                bytes.len() - 8
            ),
        ));
    }
    Ok(n)
}

/// An IDX image set with its labels, held in memory as bytes.
#[derive(Debug, Clone)]
pub struct IdxDataset {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    class_names: Vec<String>,
    rows: usize,
    cols: usize,
}

impl IdxDataset {
    /// Opens the `split` of `kind` from `dir`, which must hold both files (plain or `.gz`).
    pub fn open(dir: &Path, kind: IdxKind, split: Split) -> Result<Self, DataError> {
        if !dir.is_dir() {
            return Err(DataError::MissingDirectory {
                path: dir.to_path_buf(),
            });
        }
        let [images, labels] = kind.find_in(dir, split).ok_or_else(|| {
            let [i, l] = kind.file_names(split);
            DataError::corrupt(dir, format!("does not hold {i}[.gz] and {l}[.gz]"))
        })?;
        let mut dataset = Self::from_files(&images, &labels)?;
        dataset.class_names = kind.class_names();
        Ok(dataset)
    }

    /// Opens an images file and a labels file, checking that they agree. The classes are
    /// named by their numbers.
    pub fn from_files(images: &Path, labels: &Path) -> Result<Self, DataError> {
        let mut pixels = read_maybe_gz(images)?;
        let (n, rows, cols) = parse_images(images, &pixels)?;
        let mut label_bytes = read_maybe_gz(labels)?;
        let n_labels = parse_labels(labels, &label_bytes)?;
        if n != n_labels {
            return Err(DataError::corrupt(
                labels,
                format!(
                    "has {n_labels} labels but {} has {n} images",
                    images.display()
                ),
            ));
        }
        if let Some(bad) = label_bytes[8..].iter().find(|&&l| l > 9) {
            return Err(DataError::corrupt(
                labels,
                format!("label {bad} is outside 0..=9"),
            ));
        }
        pixels.drain(..16);
        label_bytes.drain(..8);
        Ok(Self {
            pixels,
            labels: label_bytes,
            class_names: IdxKind::Mnist.class_names(),
            rows,
            cols,
        })
    }

    /// The labels, one per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The raw pixels of image `index` (`rows * cols` bytes, 0 = background).
    pub fn pixels(&self, index: usize) -> &[u8] {
        let size = self.rows * self.cols;
        &self.pixels[index * size..(index + 1) * size]
    }
}

impl Dataset for IdxDataset {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn item_shape(&self) -> [usize; 3] {
        [1, self.rows, self.cols]
    }

    fn num_classes(&self) -> Option<usize> {
        Some(10)
    }

    fn class_names(&self) -> Option<Vec<String>> {
        Some(self.class_names.clone())
    }

    fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
        if index >= self.len() {
            return Err(DataError::Invalid(format!(
                "item {index} out of range (dataset has {})",
                self.len()
            )));
        }
        for (o, &p) in out.iter_mut().zip(self.pixels(index)) {
            *o = p as f32 / 127.5 - 1.0;
        }
        Ok(Some(self.labels[index] as u32))
    }
}

/// Writes a small IDX pair, for tests and fixtures.
pub fn write_idx_fixture(
    dir: &Path,
    names: [&str; 2],
    images: &[Vec<u8>],
    rows: usize,
    cols: usize,
    labels: &[u8],
) -> std::io::Result<()> {
    let mut img = Vec::new();
    img.extend(IMAGES_MAGIC.to_be_bytes());
    img.extend((images.len() as u32).to_be_bytes());
    img.extend((rows as u32).to_be_bytes());
    img.extend((cols as u32).to_be_bytes());
    for im in images {
        img.extend(im);
    }
    let mut lab = Vec::new();
    lab.extend(LABELS_MAGIC.to_be_bytes());
    lab.extend((labels.len() as u32).to_be_bytes());
    lab.extend(labels);
    std::fs::write(dir.join(names[0]), img)?;
    std::fs::write(dir.join(names[1]), lab)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &Path) {
        let images: Vec<Vec<u8>> = (0..3).map(|i| vec![i as u8 * 100; 4 * 5]).collect();
        write_idx_fixture(
            dir,
            IdxKind::Mnist.file_names(Split::Test),
            &images,
            4,
            5,
            &[3, 1, 4],
        )
        .unwrap();
    }

    #[test]
    fn reads_plain_files_and_normalises() {
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path());
        let ds = IdxDataset::open(dir.path(), IdxKind::Mnist, Split::Test).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.item_shape(), [1, 4, 5]);
        let mut out = vec![0.0; 20];
        assert_eq!(ds.write_item(2, &mut out).unwrap(), Some(4));
        assert!((out[0] - (200.0 / 127.5 - 1.0)).abs() < 1e-6);
        assert_eq!(ds.write_item(0, &mut out).unwrap(), Some(3));
        assert_eq!(out[0], -1.0);
    }

    #[test]
    fn reads_gzipped_files() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path());
        for name in IdxKind::Mnist.file_names(Split::Test) {
            let raw = std::fs::read(dir.path().join(name)).unwrap();
            let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
            enc.write_all(&raw).unwrap();
            std::fs::write(dir.path().join(format!("{name}.gz")), enc.finish().unwrap()).unwrap();
            std::fs::remove_file(dir.path().join(name)).unwrap();
        }
        let ds = IdxDataset::open(dir.path(), IdxKind::Mnist, Split::Test).unwrap();
        assert_eq!(ds.labels(), &[3, 1, 4]);
    }

    #[test]
    fn truncated_file_is_a_corrupt_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path());
        let path = dir.path().join("t10k-images-idx3-ubyte");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
        let err = IdxDataset::open(dir.path(), IdxKind::Mnist, Split::Test).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::Corrupt { .. }), "{msg}");
        assert!(
            msg.contains("t10k-images-idx3-ubyte") && msg.contains("truncated"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_magic_and_bad_gzip_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path());
        let path = dir.path().join("t10k-labels-idx1-ubyte");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[3] = 0x03;
        std::fs::write(&path, &bytes).unwrap();
        let err = IdxDataset::open(dir.path(), IdxKind::Mnist, Split::Test).unwrap_err();
        assert!(err.to_string().contains("not an IDX label file"), "{err}");

        std::fs::write(&path, [0x1f, 0x8b, 0, 1, 2]).unwrap();
        let err = IdxDataset::open(dir.path(), IdxKind::Mnist, Split::Test).unwrap_err();
        assert!(err.to_string().contains("bad gzip"), "{err}");
    }

    #[test]
    fn missing_directory_is_reported() {
        let err =
            IdxDataset::open(Path::new("/no/such/dir"), IdxKind::Mnist, Split::Train).unwrap_err();
        assert!(matches!(err, DataError::MissingDirectory { .. }));
    }
}
