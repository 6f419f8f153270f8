//! CIFAR-10 (Krizhevsky 2009) from its official binary release, `cifar-10-binary.tar.gz`:
//! `data_batch_1.bin` ... `data_batch_5.bin` (training) and `test_batch.bin`, each a run of
//! 3,073-byte records: one label byte (0-9), then the 32x32 red, green and blue planes.
//!
//! The archive is read as it is (or the `.bin` files, extracted, in `cifar-10-batches-bin/` or
//! the directory itself); [`locate`](crate::locate) finds it and downloads it with its SHA-256
//! checked.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::download::RemoteFile;
use crate::idx::{Split, read_maybe_gz};
use crate::locate::Findable;
use crate::{DataError, Dataset};

/// Side of a CIFAR-10 image.
const SIDE: usize = 32;
/// Bytes of one image.
const PIXELS: usize = 3 * SIDE * SIDE;
/// Bytes of one record: the label, then the image.
const RECORD: usize = 1 + PIXELS;
/// The archive's name.
pub const ARCHIVE: &str = "cifar-10-binary.tar.gz";
/// The directory the archive unpacks to.
const BATCH_DIR: &str = "cifar-10-batches-bin";
/// SHA-256 of the official archive (170,052,171 bytes).
const ARCHIVE_SHA256: &str = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd";
/// The class names, in label order.
const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The batch files of `split`.
fn batch_files(split: Split) -> Vec<String> {
    match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".to_string()],
    }
}

/// CIFAR-10 as a source to find or download.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cifar10Source;

impl Cifar10Source {
    /// Where the batch files of `split` lie under `dir`, if they do (extracted).
    fn extracted(dir: &Path, split: Split) -> Option<PathBuf> {
        [dir.join(BATCH_DIR), dir.to_path_buf()]
            .into_iter()
            .find(|d| batch_files(split).iter().all(|f| d.join(f).is_file()))
    }
}

impl Findable for Cifar10Source {
    fn name(&self) -> &'static str {
        "cifar10"
    }

    fn system_dirs(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    fn holds(&self, dir: &Path, split: Split) -> bool {
        dir.join(ARCHIVE).is_file() || Self::extracted(dir, split).is_some()
    }

    fn wanted(&self, split: Split) -> String {
        format!("{ARCHIVE} (or {})", batch_files(split).join(", "))
    }

    fn mirrors(&self) -> Vec<String> {
        vec!["https://www.cs.toronto.edu/~kriz/".to_string()]
    }

    fn remote(&self, _split: Split) -> Vec<RemoteFile> {
        vec![RemoteFile::whole(ARCHIVE, ARCHIVE_SHA256)]
    }
}

/// A CIFAR-10 split in memory: labels and `[3, 32, 32]` pixels.
#[derive(Debug, Clone)]
pub struct Cifar10 {
    labels: Vec<u8>,
    pixels: Vec<u8>,
}

impl Cifar10 {
    /// Opens `split` from `dir`: the extracted batch files if present, else the archive.
    pub fn open(dir: &Path, split: Split) -> Result<Self, DataError> {
        if !dir.is_dir() {
            return Err(DataError::MissingDirectory {
                path: dir.to_path_buf(),
            });
        }
        if let Some(batches) = Cifar10Source::extracted(dir, split) {
            let mut data = Self::empty();
            for file in batch_files(split) {
                let path = batches.join(&file);
                data.append(&path, &read_maybe_gz(&path)?)?;
            }
            return Ok(data);
        }
        let archive = dir.join(ARCHIVE);
        if !archive.is_file() {
            return Err(DataError::corrupt(
                dir,
                format!("holds neither {}", Cifar10Source.wanted(split)),
            ));
        }
        Self::from_archive(&archive, split)
    }

    fn empty() -> Self {
        Self {
            labels: Vec::new(),
            pixels: Vec::new(),
        }
    }

    /// Reads the batches of `split` from the gzipped tar archive at `path`.
    pub fn from_archive(path: &Path, split: Split) -> Result<Self, DataError> {
        let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let wanted = batch_files(split);
        let mut found: Vec<(String, Vec<u8>)> = Vec::new();
        let corrupt =
            |e: std::io::Error| DataError::corrupt(path, format!("unreadable archive: {e}"));
        for entry in archive.entries().map_err(corrupt)? {
            let mut entry = entry.map_err(corrupt)?;
            let name = entry
                .path()
                .map_err(corrupt)?
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if wanted.contains(&name) {
                let size = entry.header().size().map_err(corrupt)? as usize;
                if size > 10_001 * RECORD {
                    return Err(DataError::corrupt(
                        path,
                        format!("{name} claims {size} bytes, more than a batch holds"),
                    ));
                }
                let mut bytes = Vec::with_capacity(size);
                entry.read_to_end(&mut bytes).map_err(corrupt)?;
                found.push((name, bytes));
            }
        }
        let mut data = Self::empty();
        for name in &wanted {
            let (_, bytes) = found
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| DataError::corrupt(path, format!("the archive holds no {name}")))?;
            data.append(&path.join(name), bytes)?;
        }
        Ok(data)
    }

    /// Appends the records of one batch file, checking its size and labels.
    fn append(&mut self, path: &Path, bytes: &[u8]) -> Result<(), DataError> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
            return Err(DataError::corrupt(
                path,
                format!(
                    "truncated or not a CIFAR-10 batch: {} bytes is not a whole number of \
                     {RECORD}-byte records",
                    bytes.len()
                ),
            ));
        }
        for record in bytes.chunks_exact(RECORD) {
            let label = record[0];
            if label as usize >= CLASSES.len() {
                return Err(DataError::corrupt(
                    path,
                    format!("label {label} is outside 0..=9"),
                ));
            }
            self.labels.push(label);
            self.pixels.extend_from_slice(&record[1..]);
        }
        Ok(())
    }

    /// Writes a batch file of `records` (`(label, 3x32x32 bytes)`), for tests and fixtures.
    pub fn batch_bytes(records: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::with_capacity(records.len() * RECORD);
        for (label, pixels) in records {
            out.push(*label);
            out.extend(
                pixels
                    .iter()
                    .copied()
                    .chain(std::iter::repeat(0))
                    .take(PIXELS),
            );
        }
        out
    }

    /// The class names in label order.
    pub fn class_names() -> Vec<String> {
        CLASSES.iter().map(|c| c.to_string()).collect()
    }
}

impl Dataset for Cifar10 {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn item_shape(&self) -> [usize; 3] {
        [3, SIDE, SIDE]
    }

    fn num_classes(&self) -> Option<usize> {
        Some(CLASSES.len())
    }

    fn class_names(&self) -> Option<Vec<String>> {
        Some(Self::class_names())
    }

    fn write_item(&self, index: usize, out: &mut [f32]) -> Result<Option<u32>, DataError> {
        let pixels = self
            .pixels
            .get(index * PIXELS..(index + 1) * PIXELS)
            .ok_or_else(|| {
                DataError::Invalid(format!(
                    "item {index} out of range (dataset has {})",
                    self.len()
                ))
            })?;
        for (o, &p) in out.iter_mut().zip(pixels) {
            *o = p as f32 / 127.5 - 1.0;
        }
        Ok(Some(self.labels[index] as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize, offset: u8) -> Vec<(u8, Vec<u8>)> {
        (0..n)
            .map(|i| ((i % 10) as u8, vec![offset.wrapping_add(i as u8); PIXELS]))
            .collect()
    }

    fn archive(dir: &Path, files: &[(&str, Vec<u8>)]) -> PathBuf {
        let path = dir.join(ARCHIVE);
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, format!("{BATCH_DIR}/{name}"), bytes.as_slice())
                .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        path
    }

    #[test]
    fn reads_the_archive_and_extracted_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
        let names = batch_files(Split::Train);
        for (i, name) in names.iter().enumerate() {
            files.push((
                name.as_str(),
                Cifar10::batch_bytes(&records(3, 10 * i as u8)),
            ));
        }
        files.push(("test_batch.bin", Cifar10::batch_bytes(&records(4, 200))));
        archive(dir.path(), &files);
        let train = Cifar10::open(dir.path(), Split::Train).unwrap();
        let test = Cifar10::open(dir.path(), Split::Test).unwrap();
        assert_eq!((train.len(), test.len()), (15, 4));
        let mut item = vec![0.0; PIXELS];
        assert_eq!(test.write_item(3, &mut item).unwrap(), Some(3));
        assert_eq!(item[0], 203.0 / 127.5 - 1.0);
        assert_eq!(train.class_names().unwrap()[5], "dog");

        let extracted = tempfile::tempdir().unwrap();
        for (name, bytes) in &files {
            std::fs::write(extracted.path().join(name), bytes).unwrap();
        }
        let again = Cifar10::open(extracted.path(), Split::Test).unwrap();
        assert_eq!(again.labels, test.labels);
        assert_eq!(again.pixels, test.pixels);
    }

    #[test]
    fn truncated_bad_labels_and_missing_batches_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Cifar10::batch_bytes(&records(2, 0));
        bytes.pop();
        std::fs::write(dir.path().join("test_batch.bin"), &bytes).unwrap();
        let err = Cifar10::open(dir.path(), Split::Test)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("test_batch.bin") && err.contains("truncated"),
            "{err}"
        );

        let mut bytes = Cifar10::batch_bytes(&records(2, 0));
        bytes[RECORD] = 12;
        std::fs::write(dir.path().join("test_batch.bin"), &bytes).unwrap();
        let err = Cifar10::open(dir.path(), Split::Test)
            .unwrap_err()
            .to_string();
        assert!(err.contains("label 12"), "{err}");

        let other = tempfile::tempdir().unwrap();
        archive(
            other.path(),
            &[("test_batch.bin", Cifar10::batch_bytes(&records(1, 0)))],
        );
        let err = Cifar10::open(other.path(), Split::Train)
            .unwrap_err()
            .to_string();
        assert!(err.contains("data_batch_1.bin"), "{err}");

        std::fs::write(other.path().join(ARCHIVE), b"not gzip").unwrap();
        let err = Cifar10::open(other.path(), Split::Test)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unreadable archive"), "{err}");
    }
}
