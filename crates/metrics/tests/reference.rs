//! Every metric against the reference implementation its users run, on fixtures that
//! `scripts/metric_fixtures.py` writes: pytorch-fid (scipy's `sqrtm`), torch-fidelity and
//! the `prdc` package.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ganforge_metrics::{
    Features, GaussianStats, KidConfig, density_coverage, frechet_distance, inception_score,
    kernel_inception_distance, precision_recall,
};
use serde_json::Value;

fn fixtures() -> Value {
    let text = include_str!("fixtures/metrics.json");
    serde_json::from_str(text).unwrap()
}

fn features(v: &Value, key: &str, dim: usize) -> Features {
    let values = v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    Features::new(values, dim).unwrap()
}

fn number(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap()
}

fn dim(v: &Value, key: &str) -> usize {
    v[key].as_u64().unwrap() as usize
}

fn assert_relative(what: &str, got: f64, want: f64, tolerance: f64) {
    let error = (got - want).abs() / want.abs().max(1e-12);
    assert!(
        error <= tolerance,
        "{what}: {got} against the reference's {want} (relative error {error:e})"
    );
}

/// Within 1e-9 of the 50-digit value, or at least as close to it as scipy's `sqrtm` is
/// (features whose scales span twelve orders of magnitude leave both short of 1e-9); and
/// never far from what pytorch-fid reports.
#[test]
fn frechet_distance_matches_scipy_sqrtm() {
    for case in fixtures()["frechet"].as_array().unwrap() {
        let d = dim(case, "dim");
        let a = GaussianStats::of(&features(case, "a", d)).unwrap();
        let b = GaussianStats::of(&features(case, "b", d)).unwrap();
        let got = frechet_distance(&a, &b).unwrap();
        let name = case["name"].as_str().unwrap();
        let (scipy, exact) = (number(case, "scipy"), number(case, "exact"));
        let error = (got - exact).abs();
        assert!(
            error <= (1e-9 * exact).max((scipy - exact).abs()),
            "{name}: {got} is {error:e} from the exact {exact}; scipy's {scipy} is closer"
        );
        assert_relative(name, got, scipy, 1e-7);
    }
}

#[test]
fn kid_matches_torch_fidelity() {
    let case = &fixtures()["kid"];
    let d = dim(case, "dim");
    let (a, b) = (features(case, "a", d), features(case, "b", d));
    let config = KidConfig {
        subsets: 1,
        subset_size: a.rows(),
        seed: 0,
    };
    let kid = kernel_inception_distance(&a, &b, &config).unwrap();
    assert_relative("KID", kid.mean, number(case, "mean"), 1e-9);
}

#[test]
fn precision_recall_density_coverage_match_prdc() {
    let case = &fixtures()["prdc"];
    let d = dim(case, "dim");
    let (real, fake) = (features(case, "real", d), features(case, "fake", d));
    let pr = precision_recall(&real, &fake, 3).unwrap();
    let dc = density_coverage(&real, &fake, 5).unwrap();
    assert_relative("precision", pr.precision, number(case, "precision"), 1e-12);
    assert_relative("recall", pr.recall, number(case, "recall"), 1e-12);
    assert_relative("density", dc.density, number(case, "density"), 1e-12);
    assert_relative("coverage", dc.coverage, number(case, "coverage"), 1e-12);
}

#[test]
fn inception_score_matches_torch_fidelity() {
    let case = &fixtures()["inception_score"];
    let p = features(case, "probabilities", dim(case, "classes"));
    let is = inception_score(&p, 10).unwrap();
    assert_relative("IS mean", is.mean, number(case, "mean"), 1e-9);
    assert_relative("IS std", is.std, number(case, "std"), 1e-6);
}
