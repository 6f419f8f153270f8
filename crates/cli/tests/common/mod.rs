//! Fixtures shared by the integration tests that train from TOML configurations.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ganforge_backend::BackendKind;
use ganforge_cli::RawConfig;
use ganforge_cli::validate::{resolve, run_spec};
use ganforge_data::{IdxKind, Split, write_idx_fixture};
use ganforge_trainer::progress::ProgressMode;
use ganforge_trainer::{RunOptions, RunSpec, RunSummary};

/// Writes a small MNIST-shaped IDX training set (`n` images of 28x28, simple strokes) into
/// `dir`, created if missing, and returns `dir`.
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
    std::fs::create_dir_all(dir).expect("create the fixture directory");
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

/// A checked spec with the resolved configuration text it came from.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The run.
    pub spec: RunSpec,
    /// `resolved.toml`'s text.
    pub text: String,
}

impl std::ops::Deref for Plan {
    type Target = RunSpec;

    fn deref(&self) -> &RunSpec {
        &self.spec
    }
}

/// Parses `toml` with `overrides` into a plan on `kind`, as `ganforge train` does.
pub fn try_plan_on(
    toml: &str,
    overrides: &[&str],
    kind: BackendKind,
) -> Result<Plan, ganforge_cli::CliError> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let mut config = RawConfig::parse(toml, &overrides)?;
    let backend = resolve(&mut config, Some(kind), None)?;
    let spec = run_spec(&config, backend)?;
    Ok(Plan {
        spec,
        text: config.to_toml()?,
    })
}

/// Parses `toml` with `overrides` into a plan on flex.
pub fn plan(toml: &str, overrides: &[&str]) -> Plan {
    try_plan_on(toml, overrides, BackendKind::Flex).expect("plan")
}

/// The plan to resume run directory `run_dir` with `overrides`, from its saved configuration.
pub fn resume_plan(run_dir: &Path, overrides: &[&str]) -> Plan {
    let path = ganforge_trainer::train::saved_config_path(run_dir).expect("saved config");
    plan(
        &std::fs::read_to_string(path).expect("read config"),
        overrides,
    )
}

/// Runs a plan quietly under `runs` on `device`.
pub fn run_on(
    plan: &Plan,
    device: &burn::prelude::Device,
    runs: &Path,
    resume: Option<&Path>,
) -> RunSummary {
    let options = RunOptions {
        runs_root: runs.to_path_buf(),
        resume: resume.map(Path::to_path_buf),
        progress: ProgressMode::Quiet,
        config_text: Some(plan.text.clone()),
        stop: None,
    };
    ganforge_trainer::run(&plan.spec, device, &options).expect("run")
}

/// Runs a plan quietly under `runs` on flex.
pub fn run(plan: &Plan, runs: &Path, resume: Option<&Path>) -> RunSummary {
    let device = ganforge_backend::device(BackendKind::Flex).expect("flex");
    run_on(plan, &device, runs, resume)
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

/// Every float parameter of the generator and the discriminator as `plan` initialises them,
/// in module order.
pub fn initial_weights(plan: &RunSpec) -> (Vec<f32>, Vec<f32>) {
    use burn::module::Module;
    let device = burn::prelude::Device::flex();
    let gan = ganforge_trainer::objective::Gan::new(&plan.gan_spec(), &device, plan.init_seeds())
        .expect("networks");
    let (mut cg, mut cd) = (Collect(Vec::new()), Collect(Vec::new()));
    gan.generator.visit(&mut cg);
    gan.discriminator.visit(&mut cd);
    (cg.0, cd.0)
}

/// Every float parameter (weights and BatchNorm statistics) of the generator and the
/// discriminator saved in checkpoint directory `dir`, in module order.
pub fn checkpoint_weights(plan: &RunSpec, dir: &Path) -> (Vec<f32>, Vec<f32>) {
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

/// Runs the `ganforge` binary in `cwd`, offline, without `$GANFORGE_DATA`, with its cache
/// under `cwd`.
pub fn ganforge(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ganforge"))
        .args(args)
        .current_dir(cwd)
        .env("GANFORGE_OFFLINE", "1")
        .env_remove("GANFORGE_DATA")
        .env("GANFORGE_CACHE", cwd.join("cache"))
        .output()
        .expect("run ganforge")
}

/// Asserts exit code 2, no panic, and that stderr mentions every one of `needles`.
pub fn assert_bad_input(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
    }
}

/// Asserts that `out` exited with success, showing its stderr otherwise.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Trains `toml` (a 4-step run) straight through, and again as 2 steps resumed to 4 in `runs`;
/// asserts that both end with the same weights, bit for bit, naming `what` otherwise. Returns
/// the straight run.
pub fn assert_resumes_exactly(toml: &str, runs: &Path, what: &str) -> RunSummary {
    let straight = run(&plan(toml, &["train.steps=4"]), runs, None);
    let first = run(&plan(toml, &["train.steps=2"]), runs, None);
    let resumed = run(
        &resume_plan(&first.run_dir, &["train.steps=4"]),
        runs,
        Some(&first.run_dir),
    );
    assert_eq!(resumed.iterations, 4);
    let spec = plan(toml, &[]);
    assert!(
        checkpoint_weights(&spec, &straight.checkpoint)
            == checkpoint_weights(&spec, &resumed.checkpoint),
        "a resumed {what} run differs from an uninterrupted one"
    );
    straight
}

/// Writes a `w` x `h` grey picture with pixel values `value(x, y)` at `path`, creating its
/// directory.
pub fn save_grey(path: &Path, w: u32, h: u32, value: impl Fn(u32, u32) -> u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::GrayImage::from_fn(w, h, |x, y| image::Luma([value(x, y)]))
        .save(path)
        .unwrap();
}
