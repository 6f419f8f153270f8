//! Developer tasks for the ganforge workspace: thin wrappers over cargo.
//!
//! - `cargo xtask train [--config FILE] [--backend B] [-- ARGS]`: builds `ganforge` in release
//!   with the backend's feature and trains (default: `configs/dcgan-mnist.toml` on flex).
//! - `cargo xtask test [--flex-only]`: formatting, clippy with warnings denied and the test
//!   suite, built once with every backend compiled in (or flex alone).
//! - `cargo xtask setup-torch`: the Python environment with PyTorch for the `tch` backend.
//! - `cargo xtask bench`: criterion benchmarks and the side-by-side table against PyTorch.

mod bench;
mod torch;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use torch::TorchEnv;

const DEFAULT_CONFIG: &str = "configs/dcgan-mnist.toml";

fn usage() -> ExitCode {
    eprintln!(
        "usage:\n  \
         cargo xtask train [--config FILE] [--backend flex|tch-cpu|tch-cuda|wgpu] [-- ARGS]\n  \
         cargo xtask test [--flex-only]\n  \
         cargo xtask setup-torch\n  \
         cargo xtask bench [--backends flex,tch-cpu,wgpu] [--models a,b] [--iters N] [--warmup N]\n                    \
         [--rounds N] [--threads N] [--no-criterion] [--no-inference] [--scaling] [--score-pictures N] [--peer-device cpu|cuda]"
    );
    ExitCode::from(2)
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A cargo command in the workspace root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

/// Runs `cmd`, echoing it; returns whether it succeeded.
pub fn run(cmd: &mut Command) -> bool {
    eprintln!("+ {cmd:?}");
    match cmd.status() {
        Ok(status) => status.success(),
        Err(e) => {
            eprintln!("cannot run {:?}: {e}", cmd.get_program());
            false
        }
    }
}

/// The cargo feature that compiles `backend` in.
pub fn feature_for(backend: &str) -> Option<&'static str> {
    match backend {
        "flex" => Some("flex"),
        "tch-cpu" | "tch-cuda" => Some("tch"),
        "wgpu" => Some("wgpu"),
        _ => None,
    }
}

fn train(args: &[String]) -> ExitCode {
    let mut config = DEFAULT_CONFIG.to_string();
    let mut backend = "flex".to_string();
    let mut passthrough = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" => match it.next() {
                Some(v) => config = v.clone(),
                None => return usage(),
            },
            "--backend" => match it.next() {
                Some(v) => backend = v.clone(),
                None => return usage(),
            },
            "--" => passthrough.extend(it.by_ref().cloned()),
            _ => return usage(),
        }
    }
    let Some(feature) = feature_for(&backend) else {
        eprintln!("unknown backend `{backend}`; valid: flex, tch-cpu, tch-cuda, wgpu");
        return ExitCode::from(2);
    };
    let torch = if feature == "tch" {
        match TorchEnv::ensure(&TorchEnv::wanted_version()) {
            Ok(env) => Some(env),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "-p",
        "ganforge-cli",
        "--features",
        feature,
    ]);
    if let Some(env) = &torch {
        env.apply(&mut build);
    }
    if !run(&mut build) {
        return ExitCode::FAILURE;
    }
    let target = torch
        .as_ref()
        .map(TorchEnv::target_dir)
        .unwrap_or_else(|| workspace_root().join("target"));
    let mut cmd = Command::new(target.join("release/ganforge"));
    cmd.current_dir(workspace_root())
        .args(["train", "--config", &config, "--backend", &backend])
        .args(&passthrough);
    if let Some(env) = &torch {
        env.apply(&mut cmd);
    }
    if run(&mut cmd) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The features that compile every backend in beside flex.
const ALL_BACKENDS: &str =
    "ganforge-cli/tch,ganforge-cli/wgpu,ganforge-benches/tch,ganforge-benches/wgpu";

/// `clippy-driver` of the active toolchain.
fn clippy_driver() -> Result<PathBuf, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let driver = Path::new(&sysroot).join("bin/clippy-driver");
    if driver.is_file() {
        Ok(driver)
    } else {
        Err(format!(
            "clippy is not installed ({} is missing): run `rustup component add clippy`",
            driver.display()
        ))
    }
}

/// Formatting, clippy with warnings denied and the whole test suite, in one build.
///
/// The workspace is compiled once, with LibTorch and wgpu compiled in beside flex (or flex
/// alone with `--flex-only`, which skips the PyTorch download). Clippy lints the workspace's
/// own crates during that same build (as cargo's `RUSTC_WORKSPACE_WRAPPER`), so the large
/// dependency graph is not compiled a second time just to be checked.
fn test(args: &[String]) -> ExitCode {
    let flex_only = match args {
        [] => false,
        [flag] if flag == "--flex-only" => true,
        _ => return usage(),
    };
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    if !run(&mut fmt) {
        return ExitCode::FAILURE;
    }
    let driver = match clippy_driver() {
        Ok(driver) => driver,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let torch = if flex_only {
        None
    } else {
        match TorchEnv::ensure(&TorchEnv::wanted_version()) {
            Ok(env) => Some(env),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    };
    // pytorch-fid's features of a random network, for the Inception port's parity test.
    let inception_fixture = workspace_root().join("target/fixtures/inception");
    if let Some(env) = &torch
        && let Err(e) = env.inception_fixture(&inception_fixture)
    {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let configure = |cmd: &mut Command| {
        if let Some(env) = &torch {
            cmd.env("GANFORGE_INCEPTION_FIXTURE", &inception_fixture);
            cmd.args(["--features", ALL_BACKENDS]);
            // Every backend built must also run (the parity tests fail otherwise).
            cmd.env("GANFORGE_REQUIRE_BACKENDS", "1");
            env.apply(cmd);
        }
        // What `cargo clippy -- -D warnings` sets, applied to a full build.
        cmd.env("RUSTC_WORKSPACE_WRAPPER", &driver).env(
            "CLIPPY_ARGS",
            "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
        );
        // Kernel autotuning benchmarks every candidate kernel on first use; on a software
        // Vulkan adapter that costs minutes and tests only need correct kernels.
        if std::env::var_os("CUBECL_AUTOTUNE_LEVEL").is_none() {
            cmd.env("CUBECL_AUTOTUNE_LEVEL", "minimal");
        }
    };
    // Every target is compiled (and linted), benchmarks included; then the tests run.
    let mut build = cargo();
    build.args(["test", "--workspace", "--all-targets", "--no-run"]);
    configure(&mut build);
    let mut test = cargo();
    test.args(["test", "--workspace"]);
    configure(&mut test);
    if run(&mut build) && run(&mut test) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn setup_torch() -> ExitCode {
    match TorchEnv::ensure(&TorchEnv::wanted_version()) {
        Ok(env) => {
            println!("{}", env.shell_exports());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("train") => train(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("setup-torch") => setup_torch(),
        Some("bench") => match bench::BenchOptions::parse(&args[1..]) {
            Ok(options) if bench::bench(&options) => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("{e}");
                usage()
            }
        },
        _ => usage(),
    }
}
