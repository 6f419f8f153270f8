//! Kill at any moment: a training run is killed with SIGKILL at random instants (in its
//! start-up or its training), resumed each time, and must end with the same weights and
//! metrics, bit for bit, as an uninterrupted run. Also: a
//! SIGTERM stops a run after its current iteration with a checkpoint and exit code 130.
//!
//! `GANFORGE_SOAK_KILLS` sets the number of kills (default 12, what CI runs);
//! `GANFORGE_SOAK_SEED` the seed of the kill instants. RELIABILITY.md lists longer runs.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};

/// A toy run that checkpoints every few iterations, so kills often land during a write.
const CONFIG: &str = "[model]\narchitecture = \"toy-mlp\"\nwidth = 32\ndepth = 2\n\
    [data]\ndataset = \"toy-ring8\"\nsamples = 2000\n\
    [train]\nsteps = 600\nbatch_size = 64\nseed = 5\nlog_every = 5\nsample_every = 100\n\
    checkpoint_every = 7\nkeep_checkpoints = 2\n";

fn spawn(args: &[&str], cwd: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ganforge"))
        .args(args)
        .current_dir(cwd)
        .env("GANFORGE_OFFLINE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ganforge")
}

fn finish(child: Child) -> (ExitStatus, String) {
    let out = child.wait_with_output().expect("wait");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The newest run directory under `out` that can be resumed (it has `spec.json`), if any.
fn resumable(out: &Path) -> Option<PathBuf> {
    run_dirs(out)
        .into_iter()
        .rev()
        .find(|d| d.join("spec.json").is_file())
}

/// Removes the run directories under `out` that a kill left before they were complete, as
/// a user would before starting again.
fn discard_incomplete(out: &Path) {
    for d in run_dirs(out) {
        if !d.join("spec.json").is_file() {
            std::fs::remove_dir_all(&d).unwrap();
        }
    }
}

fn train_args<'a>(config: &'a str, out: &'a str, resume: Option<&'a str>) -> Vec<&'a str> {
    match resume {
        Some(dir) => vec!["train", "--resume", dir, "--plain"],
        None => vec!["train", "--config", config, "--out", out, "--plain"],
    }
}

#[test]
fn killed_at_random_moments_the_run_ends_as_if_never_killed() {
    let kills: usize = std::env::var("GANFORGE_SOAK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("GANFORGE_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("soak.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.display().to_string();

    let started = Instant::now();
    let (status, stderr) = finish(spawn(&train_args(&config, "reference", None), dir.path()));
    assert!(status.success(), "{stderr}");
    let whole = started.elapsed();
    let reference = resumable(&dir.path().join("reference")).unwrap();
    // The process's start-up alone (backends compiled in can take most of a short run).
    let started = Instant::now();
    let dry = spawn(&["train", "--config", &config, "--dry-run"], dir.path());
    assert!(finish(dry).0.success());
    let startup = started.elapsed().min(whole);
    // Kill instants: anywhere in the start-up or the first sixth of the training itself.
    let window = startup + (whole - startup) / 6;

    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    let plan = common::plan(CONFIG, &[]);
    let expected = common::checkpoint_weights(&plan, &last_checkpoint(&reference));
    assert!(!expected.0.is_empty());
    // Rounds of one killed-and-resumed run each, until `kills` kills in all.
    let (mut killed, mut launches, mut rounds) = (0, 0, 0);
    while killed < kills.max(1) {
        let out = dir.path().join(format!("soak-{rounds}"));
        let budget = kills.max(1) - killed;
        let (k, l) = run_with_kills(&config, &out, window, budget, &mut rng, dir.path());
        let soaked = resumable(&out).unwrap();
        assert!(last_checkpoint(&soaked).ends_with("step-00000600"));
        let got = common::checkpoint_weights(&plan, &last_checkpoint(&soaked));
        assert!(
            got == expected,
            "round {rounds}: the killed run's final weights differ from the uninterrupted run's"
        );
        assert_eq!(common::losses(&reference), common::losses(&soaked));
        (killed, launches, rounds) = (killed + k, launches + l, rounds + 1);
    }
    eprintln!("soak: {killed} kills survived in {rounds} runs ({launches} launches), seed {seed}");
}

fn last_checkpoint(run: &Path) -> PathBuf {
    ganforge_trainer::checkpoint::latest(&run.join("checkpoints")).expect("a checkpoint")
}

/// Trains under `out` to the end, killing each launch after a random delay within `window`
/// until `budget` kills are spent (the launch after that runs to the end); returns the kills
/// and launches.
fn run_with_kills(
    config: &str,
    out: &Path,
    window: Duration,
    budget: usize,
    rng: &mut rand_pcg::Pcg64Mcg,
    cwd: &Path,
) -> (usize, usize) {
    let out_name = out.file_name().unwrap().to_string_lossy().into_owned();
    let (mut killed, mut launches) = (0, 0);
    loop {
        discard_incomplete(out);
        let run = resumable(out).map(|p| p.display().to_string());
        let mut child = spawn(&train_args(config, &out_name, run.as_deref()), cwd);
        launches += 1;
        if killed < budget {
            std::thread::sleep(window.mul_f64(rng.random_range(0.0..1.0)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                killed += 1;
            }
        }
        let (status, stderr) = finish(child);
        assert!(!stderr.contains("panicked"), "{stderr}");
        if status.success() {
            return (killed, launches);
        }
        assert!(status.code().is_none(), "failed without a kill: {stderr}");
    }
}

#[test]
fn sigterm_stops_after_the_iteration_with_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("long.toml");
    let body = CONFIG.replace("steps = 600", "steps = 1000000");
    std::fs::write(&config, body).unwrap();
    let config = config.display().to_string();
    let child = spawn(&train_args(&config, "runs", None), dir.path());
    // Wait until the run has made some checkpoints, then ask it to stop.
    let deadline = Instant::now() + Duration::from_secs(60);
    while resumable(&dir.path().join("runs"))
        .is_none_or(|run| ganforge_trainer::checkpoint::latest(&run.join("checkpoints")).is_none())
    {
        assert!(Instant::now() < deadline, "the run never checkpointed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let (status, stderr) = finish(child);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("resume with: ganforge train --resume"),
        "{stderr}"
    );
    let run = resumable(&dir.path().join("runs")).unwrap();
    let latest = ganforge_trainer::checkpoint::latest(&run.join("checkpoints")).unwrap();
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(latest.join("state.json")).unwrap()).unwrap();
    let at = state["iteration"].as_u64().unwrap();
    assert!(
        stderr.contains(&format!("stopped at iteration {at} ")),
        "{stderr}"
    );
}
