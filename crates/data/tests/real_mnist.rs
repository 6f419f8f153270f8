//! The real MNIST files from `$GANFORGE_DATA/mnist`. Under `CI=true` a missing data set is
//! a failure; elsewhere the test says it was skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ganforge_data::{Dataset, IdxDataset, IdxKind, Split};

fn data_dir() -> Option<PathBuf> {
    match std::env::var_os("GANFORGE_DATA") {
        Some(root) => Some(PathBuf::from(root).join("mnist")),
        None => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !ci,
                "GANFORGE_DATA must point at the shared data under CI=true"
            );
            eprintln!("GANFORGE_DATA is not set: real MNIST test skipped");
            None
        }
    }
}

#[test]
fn real_mnist_matches_the_published_statistics() {
    let Some(dir) = data_dir() else { return };
    let train = IdxDataset::open(&dir, IdxKind::Mnist, Split::Train).unwrap();
    let test = IdxDataset::open(&dir, IdxKind::Mnist, Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(train.item_shape(), [1, 28, 28]);
    assert_eq!(&train.labels()[..8], &[5, 0, 4, 1, 9, 2, 1, 3]);
    let mut counts = [0usize; 10];
    for &l in train.labels() {
        counts[l as usize] += 1;
    }
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    let mean: f64 = (0..train.len())
        .map(|i| train.pixels(i).iter().map(|&p| p as f64).sum::<f64>())
        .sum::<f64>()
        / (60_000.0 * 784.0 * 255.0);
    assert!((mean - 0.130_660).abs() < 1e-5, "{mean}");
    let mut item = vec![0.0; 784];
    train.write_item(0, &mut item).unwrap();
    assert!(item.iter().all(|v| (-1.0..=1.0).contains(v)));
    assert_eq!(item.iter().cloned().fold(f32::MIN, f32::max), 1.0);
}
