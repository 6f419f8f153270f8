//! Hostile input, fuzzed with property tests: IDX files, CIFAR-10 batches and archives, and
//! pictures in an image folder, made of random bytes, valid files with bytes flipped or cut
//! off, and headers that claim impossible sizes. Every case must end in `Ok` or a `DataError`
//! naming the file: never a panic, an abort or unbounded memory.
//!
//! Cases per property: `PROPTEST_CASES` (default 256 here; RELIABILITY.md records longer
//! runs); the cases are drawn from the seed `PROPTEST_RNG_SEED` (default 0), so a run is
//! repeatable and other seeds explore further.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;

use ganforge_data::{
    Cifar10, ColorMode, Dataset, IdxDataset, IdxKind, ImageFolder, Split, write_idx_fixture,
};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(
            std::env::var("PROPTEST_RNG_SEED")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ),
        ..ProptestConfig::default()
    }
}

/// Reads every item of `dataset`; errors are fine, panics are not.
fn read_all(dataset: &dyn Dataset) -> Result<(), ganforge_data::DataError> {
    let [c, h, w] = dataset.item_shape();
    let mut out = vec![0.0f32; c * h * w];
    for i in 0..dataset.len() {
        dataset.write_item(i, &mut out)?;
    }
    Ok(())
}

/// A valid little IDX pair, as bytes.
fn idx_pair() -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let names = IdxKind::Mnist.file_names(Split::Train);
    let images: Vec<Vec<u8>> = (0..3).map(|i| vec![i * 80; 28 * 28]).collect();
    write_idx_fixture(dir.path(), names, &images, 28, 28, &[1, 2, 3]).unwrap();
    let read = |n: &str| std::fs::read(dir.path().join(n)).unwrap();
    (read(names[0]), read(names[1]))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn open_idx(images: &[u8], labels: &[u8], gz: bool) -> Result<(), ganforge_data::DataError> {
    let dir = tempfile::tempdir().unwrap();
    let names = IdxKind::Mnist.file_names(Split::Train);
    for (name, bytes) in names.iter().zip([images, labels]) {
        match gz {
            true => std::fs::write(dir.path().join(format!("{name}.gz")), gzip(bytes)),
            false => std::fs::write(dir.path().join(name), bytes),
        }
        .unwrap();
    }
    let ds = IdxDataset::open(dir.path(), IdxKind::Mnist, Split::Train)?;
    read_all(&ds)
}

/// `bytes` with `flips` (position, xor mask) applied and cut to `keep` of its length.
fn mutate(mut bytes: Vec<u8>, flips: &[(usize, u8)], keep: f64) -> Vec<u8> {
    for &(at, mask) in flips {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] ^= mask;
        }
    }
    let len = (bytes.len() as f64 * keep).round() as usize;
    bytes.truncate(len);
    bytes
}

fn flips() -> impl Strategy<Value = Vec<(usize, u8)>> {
    prop::collection::vec((any::<usize>(), 1u8..), 0..8)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn idx_random_bytes(images in prop::collection::vec(any::<u8>(), 0..64),
                        labels in prop::collection::vec(any::<u8>(), 0..32),
                        gz in any::<bool>()) {
        let _ = open_idx(&images, &labels, gz);
    }

    #[test]
    fn idx_mutated(flips_i in flips(), flips_l in flips(), keep in 0.0f64..=1.0,
                   gz in any::<bool>()) {
        let (images, labels) = idx_pair();
        let cut = mutate(images.clone(), &flips_i, keep);
        let result = open_idx(&cut, &mutate(labels, &flips_l, 1.0), gz);
        if cut.len() < images.len() {
            prop_assert!(result.is_err(), "a cut image file was accepted");
        }
    }

    #[test]
    fn idx_impossible_headers(n in any::<u32>(), rows in any::<u32>(), cols in any::<u32>(),
                              labels in any::<u32>()) {
        let mut images = vec![0, 0, 8, 3];
        for v in [n, rows, cols] {
            images.extend(v.to_be_bytes());
        }
        images.extend([0u8; 28 * 28]);
        let mut label_file = vec![0, 0, 8, 1];
        label_file.extend(labels.to_be_bytes());
        label_file.push(0);
        let result = open_idx(&images, &label_file, false);
        if n == 1 && rows == 28 && cols == 28 && labels == 1 {
            prop_assert!(result.is_ok());
        } else if result.is_ok() {
            prop_assert!(n as u64 * rows as u64 * cols as u64 == 784 && labels == n);
        }
    }

    #[test]
    fn cifar_batches(records in 0usize..3, extra in 0usize..4000, flips in flips(),
                     label in any::<u8>()) {
        let batch = Cifar10::batch_bytes(&vec![(label % 12, vec![7u8; 3072]); records]);
        let mut bytes = mutate(batch, &flips, 1.0);
        bytes.extend(std::iter::repeat_n(1u8, extra));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("test_batch.bin"), &bytes).unwrap();
        if let Ok(ds) = Cifar10::open(dir.path(), Split::Test) {
            prop_assert!(read_all(&ds).is_ok());
        }
    }

    #[test]
    fn cifar_archives(flips in flips(), keep in 0.0f64..=1.0) {
        let batch = Cifar10::batch_bytes(&[(3, vec![9u8; 3072]), (4, vec![1u8; 3072])]);
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(batch.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "cifar-10-batches-bin/test_batch.bin", batch.as_slice())
            .unwrap();
        let archive = mutate(gzip(&tar.into_inner().unwrap()), &flips, keep);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cifar-10-binary.tar.gz"), archive).unwrap();
        if let Ok(ds) = Cifar10::open(dir.path(), Split::Test) {
            prop_assert!(read_all(&ds).is_ok());
        }
    }

    #[test]
    fn pictures(kind in 0usize..4, flips in flips(), keep in 0.0f64..=1.0,
                w in 1u32..40, h in 1u32..40, size in 1usize..12, grey in any::<bool>()) {
        let picture = picture(kind, w, h);
        let ext = if kind == 3 { "jpg" } else { "png" };
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join(format!("a/x.{ext}")), mutate(picture, &flips, keep))
            .unwrap();
        let color = if grey { ColorMode::Grey } else { ColorMode::Rgb };
        let folder = ImageFolder::open(dir.path(), size, color).unwrap();
        let _ = read_all(&folder);
    }
}

/// A picture in one of four encodings: 8-bit grey PNG, 16-bit RGBA PNG, grey+alpha PNG, JPEG.
fn picture(kind: usize, w: u32, h: u32) -> Vec<u8> {
    use image::{DynamicImage, ImageFormat};
    let rgb = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 5) as u8, (y * 7) as u8, 99]));
    let img = match kind {
        0 => DynamicImage::ImageRgb8(rgb).into_luma8().into(),
        1 => DynamicImage::ImageRgba16(DynamicImage::ImageRgb8(rgb).into_rgba16()),
        2 => DynamicImage::ImageLumaA8(DynamicImage::ImageRgb8(rgb).into_luma_alpha8()),
        _ => DynamicImage::ImageRgb8(rgb),
    };
    let format = if kind == 3 {
        ImageFormat::Jpeg
    } else {
        ImageFormat::Png
    };
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn write_png_header(path: &Path, width: u32, height: u32) {
    // A PNG signature and an IHDR chunk claiming `width` x `height` 8-bit RGB, then no data.
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut chunk = b"IHDR".to_vec();
    chunk.extend(&ihdr);
    let crc = crc32(&chunk);
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    png.extend((ihdr.len() as u32).to_be_bytes());
    png.extend(chunk);
    png.extend(crc.to_be_bytes());
    std::fs::write(path, png).unwrap();
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A picture whose header claims 100,000 x 100,000 pixels (30 GB decoded) is refused by the
/// decoder's allocation limit, and a 1 x 20,000 strip decodes into a small square.
#[test]
fn huge_and_thin_pictures_take_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    write_png_header(&dir.path().join("a/huge.png"), 100_000, 100_000);
    let folder = ImageFolder::open(dir.path(), 8, ColorMode::Rgb).unwrap();
    let err = read_all(&folder).unwrap_err().to_string();
    assert!(err.contains("huge.png"), "{err}");

    let thin = tempfile::tempdir().unwrap();
    std::fs::create_dir(thin.path().join("a")).unwrap();
    image::GrayImage::from_pixel(1, 20_000, image::Luma([200]))
        .save(thin.path().join("a/thin.png"))
        .unwrap();
    let folder = ImageFolder::open(thin.path(), 64, ColorMode::Rgb).unwrap();
    read_all(&folder).unwrap();
}

/// A gzip file that expands without bound (here 1 GiB + 1 of zeros) is refused, not read.
#[test]
fn a_gzip_bomb_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let names = IdxKind::Mnist.file_names(Split::Train);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 24];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    enc.write_all(&[0]).unwrap();
    let bomb = enc.finish().unwrap();
    std::fs::write(dir.path().join(format!("{}.gz", names[0])), bomb).unwrap();
    std::fs::write(dir.path().join(names[1]), [0, 0, 8, 1, 0, 0, 0, 0]).unwrap();
    let err = IdxDataset::open(dir.path(), IdxKind::Mnist, Split::Train)
        .unwrap_err()
        .to_string();
    assert!(err.contains("expands to more than"), "{err}");
}
