//! Fixtures shared by the trainer's integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ganforge_backend::BackendKind;
use ganforge_data::{IdxKind, Split, write_idx_fixture};
use ganforge_trainer::progress::ProgressMode;
use ganforge_trainer::{RawConfig, RunOptions, RunSummary, TrainPlan};

/// Writes a small MNIST-shaped IDX training set (`n` images of 28x28, simple strokes) into
/// `dir` and returns `dir`.
pub fn mnist_fixture(dir: &Path, n: usize) -> PathBuf {
    let mut images = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = (i % 10) as u8;
        let mut img = vec![0u8; 28 * 28];
        // A vertical bar whose position encodes the label, and a diagonal for odd labels.
        let col = 4 + 2 * label as usize;
        for r in 4..24 {
            img[r * 28 + col] = 255;
            img[r * 28 + col + 1] = 200;
            if label % 2 == 1 {
                img[r * 28 + r] = 180;
            }
        }
        images.push(img);
        labels.push(label);
    }
    write_idx_fixture(
        dir,
        IdxKind::Mnist.file_names(Split::Train),
        &images,
        28,
        28,
        &labels,
    )
    .expect("write fixture");
    dir.to_path_buf()
}

/// Parses `toml` with `overrides` into a plan on flex.
pub fn plan(toml: &str, overrides: &[&str]) -> TrainPlan {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let config = RawConfig::parse(toml, &overrides).expect("config");
    TrainPlan::new(config, Some(BackendKind::Flex), None).expect("plan")
}

/// Runs a plan quietly under `runs`.
pub fn run(plan: &TrainPlan, runs: &Path, resume: Option<&Path>) -> RunSummary {
    let device = ganforge_backend::device(BackendKind::Flex).expect("flex");
    let options = RunOptions {
        runs_root: runs.to_path_buf(),
        resume: resume.map(Path::to_path_buf),
        progress: ProgressMode::Quiet,
    };
    ganforge_trainer::run(plan, &device, &options).expect("run")
}

struct Collect(Vec<f32>);

impl burn::module::ModuleVisitor for Collect {
    fn visit_float<const D: usize>(
        &mut self,
        param: &burn::module::Param<burn::prelude::Tensor<D>>,
    ) {
        self.0.extend(
            param
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .expect("f32"),
        );
    }
}

/// Every float parameter (weights and BatchNorm statistics) of the generator and the
/// discriminator saved in checkpoint directory `dir`, in module order.
pub fn checkpoint_weights(plan: &TrainPlan, dir: &Path) -> (Vec<f32>, Vec<f32>) {
    use burn::module::Module;
    let device = burn::prelude::Device::flex();
    let gan = ganforge_trainer::objective::Gan::new(&plan.gan_spec(), &device, plan.init_seeds())
        .expect("networks");
    let (g, d) = (gan.generator, gan.discriminator);
    let g =
        ganforge_trainer::checkpoint::load_module(g, &dir.join("generator.bpk")).expect("load g");
    let d = ganforge_trainer::checkpoint::load_module(d, &dir.join("discriminator.bpk"))
        .expect("load d");
    let (mut cg, mut cd) = (Collect(Vec::new()), Collect(Vec::new()));
    g.visit(&mut cg);
    d.visit(&mut cd);
    (cg.0, cd.0)
}

/// Metrics lines without the timing fields.
pub fn losses(run_dir: &Path) -> Vec<(u64, f32, f32, f32, f32)> {
    ganforge_trainer::metrics_log::read_lines(&run_dir.join("metrics.jsonl"))
        .expect("metrics")
        .into_iter()
        .map(|l| (l.iteration, l.loss_d, l.loss_g, l.d_real, l.d_fake))
        .collect()
}
