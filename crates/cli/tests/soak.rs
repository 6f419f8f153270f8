//! Kill at any moment: a training run is killed with SIGKILL at random instants, resumed each
//! time, and must end with the same weights, bit for bit, as an uninterrupted run. Also: a
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

/// The run directory under `out` that can be resumed (it has `spec.json`), if any; a
/// directory killed before it was complete is removed, as a user would start again.
fn resumable(out: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let found = dirs
        .iter()
        .rev()
        .find(|d| d.join("spec.json").is_file())
        .cloned();
    for d in dirs.iter().filter(|d| Some(*d) != found.as_ref()) {
        std::fs::remove_dir_all(d).unwrap();
    }
    found
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

    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    let out = dir.path().join("soak");
    let mut killed = 0;
    let mut launches = 0;
    loop {
        let run = resumable(&out).map(|p| p.display().to_string());
        let args = train_args(&config, "soak", run.as_deref());
        let mut child = spawn(&args, dir.path());
        launches += 1;
        if killed < kills {
            // A sixth of a whole run at most, so most launches are killed part-way.
            let delay = whole.mul_f64(rng.random_range(0.0..1.0 / 6.0));
            std::thread::sleep(delay);
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                killed += 1;
            }
        }
        let (status, stderr) = finish(child);
        assert!(!stderr.contains("panicked"), "{stderr}");
        if status.success() {
            break;
        }
        assert!(status.code().is_none(), "failed without a kill: {stderr}");
        assert!(
            launches < 10 * kills + 10,
            "no progress after {launches} launches"
        );
    }
    eprintln!("soak: {killed} kills, {launches} launches, seed {seed}");
    assert!(killed >= kills.min(1));

    let plan = common::plan(CONFIG, &[]);
    let last = |run: &Path| {
        ganforge_trainer::checkpoint::latest(&run.join("checkpoints")).expect("a checkpoint")
    };
    let soaked = resumable(&out).unwrap();
    assert!(last(&soaked).ends_with("step-00000600"));
    let (a, b) = (
        common::checkpoint_weights(&plan, &last(&reference)),
        common::checkpoint_weights(&plan, &last(&soaked)),
    );
    assert!(!a.0.is_empty());
    assert!(
        a == b,
        "the killed run's final weights differ from the uninterrupted run's"
    );
    assert_eq!(common::losses(&reference), common::losses(&soaked));
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
