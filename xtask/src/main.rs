//! Developer tasks for the ganforge workspace: thin wrappers over cargo.
//!
//! - `cargo xtask train [--config FILE] [--backend B] [-- ARGS]`: builds `ganforge` in release
//!   with the backend's feature and trains (default: `configs/dcgan-mnist.toml` on flex).
//! - `cargo xtask test`: formatting check, clippy with warnings denied, and the test suite.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const DEFAULT_CONFIG: &str = "configs/dcgan-mnist.toml";

fn usage() -> ExitCode {
    eprintln!(
        "usage:\n  cargo xtask train [--config FILE] [--backend flex|tch-cpu|tch-cuda|wgpu] [-- ARGS]\n  \
         cargo xtask test"
    );
    ExitCode::from(2)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

/// Runs `cmd`, echoing it; returns whether it succeeded.
fn run(cmd: &mut Command) -> bool {
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
fn feature_for(backend: &str) -> Option<&'static str> {
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
            "--" => {
                passthrough.extend(it.by_ref().cloned());
            }
            _ => return usage(),
        }
    }
    let Some(feature) = feature_for(&backend) else {
        eprintln!("unknown backend `{backend}`; valid: flex, tch-cpu, tch-cuda, wgpu");
        return ExitCode::from(2);
    };
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "-p",
        "ganforge-trainer",
        "--features",
        feature,
    ]);
    if !run(&mut build) {
        return ExitCode::FAILURE;
    }
    let binary = workspace_root().join("target/release/ganforge");
    let mut cmd = Command::new(binary);
    cmd.current_dir(workspace_root())
        .args(["train", "--config", &config, "--backend", &backend])
        .args(&passthrough);
    if run(&mut cmd) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn test() -> ExitCode {
    let steps: Vec<Command> = vec![
        {
            let mut c = cargo();
            c.args(["fmt", "--all", "--", "--check"]);
            c
        },
        {
            let mut c = cargo();
            c.args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]);
            c
        },
        {
            let mut c = cargo();
            c.args(["test", "--workspace"]);
            c
        },
    ];
    for mut step in steps {
        if !run(&mut step) {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("train") => train(&args[1..]),
        Some("test") => test(),
        _ => usage(),
    }
}
