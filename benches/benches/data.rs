//! The data pipeline: items per second delivered by the batch loader from MNIST in memory
//! and from an image folder (first pass decodes PNGs, later passes hit the decoded cache).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ganforge_data::{
    BatchLoader, ColorMode, Dataset, IdxDataset, IdxKind, ImageFolder, LoaderPosition, Split,
    write_idx_fixture,
};

const BATCH: usize = 64;
const BATCHES: usize = 50;

fn mnist() -> Arc<dyn Dataset> {
    // Real MNIST when GANFORGE_DATA has it, else a synthetic set of the same shape.
    if let Some(root) = std::env::var_os("GANFORGE_DATA") {
        let dir = PathBuf::from(root).join("mnist");
        if let Ok(ds) = IdxDataset::open(&dir, IdxKind::Mnist, Split::Train) {
            return Arc::new(ds);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let images: Vec<Vec<u8>> = (0..10_000).map(|i| vec![(i % 256) as u8; 784]).collect();
    let labels: Vec<u8> = (0..10_000).map(|i| (i % 10) as u8).collect();
    write_idx_fixture(
        dir.path(),
        IdxKind::Mnist.file_names(Split::Train),
        &images,
        28,
        28,
        &labels,
    )
    .unwrap();
    Arc::new(IdxDataset::open(dir.path(), IdxKind::Mnist, Split::Train).unwrap())
}

fn image_folder(dir: &std::path::Path, n: usize) -> Arc<dyn Dataset> {
    for i in 0..n {
        let img = image::RgbImage::from_fn(40, 36, |x, y| {
            image::Rgb([(x * 6) as u8, (y * 7) as u8, (i % 256) as u8])
        });
        img.save(dir.join(format!("{i:05}.png"))).unwrap();
    }
    Arc::new(ImageFolder::open(dir, 32, ColorMode::Rgb).unwrap())
}

fn drain(dataset: Arc<dyn Dataset>) {
    let mut loader = BatchLoader::new(dataset, BATCH, 0, LoaderPosition::default(), 4).unwrap();
    for _ in 0..BATCHES {
        std::hint::black_box(loader.next_batch().unwrap());
    }
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("data");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements((BATCH * BATCHES) as u64));
    let ds = mnist();
    group.bench_function("mnist_loader", |b| b.iter(|| drain(Arc::clone(&ds))));
    group.bench_function("image_folder_decode", |b| {
        b.iter_with_setup(
            || {
                let dir = tempfile::tempdir().unwrap();
                let ds = image_folder(dir.path(), BATCH * BATCHES);
                (dir, ds)
            },
            |(_dir, ds)| drain(ds),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let warm = image_folder(dir.path(), BATCH * BATCHES);
    drain(Arc::clone(&warm));
    group.bench_function("image_folder_cached", |b| {
        b.iter(|| drain(Arc::clone(&warm)))
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
