//! burn-train 0.22's FID (feature `vision`) against pytorch-fid and ganforge on the same
//! random pytorch-fid network and pictures (the parity fixture), and its Newton-Schulz
//! Fréchet distance against the exact one.
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PytorchStore};
use burn_train::metric::vision::FidConfig;
use ganforge_metrics::{Features, GaussianStats, frechet_distance};

fn read_f32(path: &str) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
fn gap(ours: &[f32], theirs: &[f32]) -> f32 {
    let scale = theirs.iter().fold(0f32, |m, v| m.max(v.abs()));
    ours.iter()
        .zip(theirs)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
        / scale
}
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let device = Device::flex();
    let pictures = read_f32(&format!("{dir}/rgb.f32"));
    let expected = read_f32(&format!("{dir}/rgb.features.f32"));
    let x = || Tensor::<4>::from_data(TensorData::new(pictures.clone(), [3, 3, 32, 32]), &device);
    for normalize in [true, false] {
        let mut fid = FidConfig::new().with_normalize(normalize).init(&device);
        let mut store = PytorchStore::from_file(format!("{dir}/weights.pth"))
            .allow_partial(true)
            .with_key_remapping(r"^Conv2d_1a_3x3\.", "extractor.conv2d_1a.")
            .with_key_remapping(r"^Conv2d_2a_3x3\.", "extractor.conv2d_2a.")
            .with_key_remapping(r"^Conv2d_2b_3x3\.", "extractor.conv2d_2b.")
            .with_key_remapping(r"^Conv2d_3b_1x1\.", "extractor.conv2d_3b.")
            .with_key_remapping(r"^Conv2d_4a_3x3\.", "extractor.conv2d_4a.")
            .with_key_remapping(r"^Mixed_(\w\w)\.", "extractor.mixed_$1.");
        let r = fid.load_from(&mut store).unwrap();
        let feats = fid
            .extract_features(x())
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        println!(
            "burn-train normalize={normalize}: applied {} missing {} ; largest feature gap vs pytorch-fid {:.3e}",
            r.applied.len(),
            r.missing.len(),
            gap(&feats, &expected)
        );
    }
    let ours = ganforge_models::FidInception::load(
        std::path::Path::new(&format!("{dir}/weights.pth")),
        &device,
    )
    .unwrap();
    let f = ours
        .forward(x())
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap();
    println!(
        "ganforge: largest feature gap vs pytorch-fid {:.3e}",
        gap(&f, &expected)
    );

    let fid = FidConfig::new().init(&device);
    for (rows, shift) in [(3000usize, 0.1f32), (500, 0.1), (3000, 0.0)] {
        let d = 2048;
        let a = values(rows * d, 1);
        let b: Vec<f32> = values(rows * d, 2).iter().map(|v| v + shift).collect();
        let ta = Tensor::<2>::from_data(TensorData::new(a.clone(), [rows, d]), &device);
        let tb = Tensor::<2>::from_data(TensorData::new(b.clone(), [rows, d]), &device);
        let t = std::time::Instant::now();
        let approx: f32 = fid
            .compute_fid(ta, tb)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap()[0];
        let t_approx = t.elapsed();
        let t = std::time::Instant::now();
        let sa = GaussianStats::of(&Features::from_f32(&a, d).unwrap()).unwrap();
        let sb = GaussianStats::of(&Features::from_f32(&b, d).unwrap()).unwrap();
        let exact = frechet_distance(&sa, &sb).unwrap();
        println!(
            "{rows} rows, shift {shift}: burn-train {approx:.6} ({t_approx:?}), exact {exact:.6} ({:?}), relative error {:.3e}",
            t.elapsed(),
            ((approx as f64) - exact).abs() / exact.abs().max(1e-12)
        );
    }
}
