//! Checkpoints: both networks, both optimiser states, the iteration counter, the data
//! position and the noise RNG, so a resumed run continues exactly where it stopped.
//!
//! Layout: `checkpoints/step-00001000/{generator,discriminator,optimizer-g,optimizer-d}.bpk`,
//! `generator-ema.bpk` when the run keeps a moving average of the generator, `state.json`,
//! `spec.json` (the [`RunSpec`], so a checkpoint is self-contained) and, when
//! the run was made from a configuration file, its text as `config.toml`; plus
//! `checkpoints/latest` naming the newest. A run that scores itself also keeps its best
//! checkpoint as `checkpoints/best-00000600`, named by `checkpoints/best`. A checkpoint is written into a hidden temporary directory and renamed into place only when complete;
//! `latest` is replaced atomically after that. An interrupted write leaves the previous
//! checkpoint as `latest`.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::Tensor;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::ada::{AdaRecord, AdaState};
use crate::error::TrainError;
use crate::fsio::{sync_dir, write_atomic};
use crate::objective::Gan;
use crate::spec::RunSpec;

/// Format version of `state.json` (2: networks with class conditioning; 3: `spec.json`).
const FORMAT: u32 = 3;
/// The pointer to the newest checkpoint.
pub const LATEST: &str = "latest";
/// The pointer to the best checkpoint by the run's ranking score, and its directory's prefix.
pub const BEST: &str = "best";
const STATE: &str = "state.json";
/// The configuration text a run was made from, kept for the record.
const CONFIG: &str = "config.toml";
/// The run's [`RunSpec`] inside a checkpoint.
pub const SPEC: &str = "spec.json";
/// The generator weights inside a checkpoint.
pub const GENERATOR: &str = "generator.bpk";
const DISCRIMINATOR: &str = "discriminator.bpk";
/// The moving average of the generator's weights inside a checkpoint, when the run keeps one.
pub const GENERATOR_EMA: &str = "generator-ema.bpk";
/// LeCam's moving averages of the discriminator's scores, when the run regularises with it.
const LECAM: &str = "lecam.json";
/// The adaptive augmentation probability and its window, when the run adapts it.
const ADA: &str = "ada.json";
const OPTIMIZER_G: &str = "optimizer-g.bpk";
const OPTIMIZER_D: &str = "optimizer-d.bpk";

/// The loop state besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// `state.json` format version.
    pub format: u32,
    /// Iterations completed.
    pub iteration: u64,
    /// Epoch of the data loader.
    pub loader_epoch: u64,
    /// Batches of that epoch already consumed.
    pub loader_batch: u64,
    /// The training-noise generator.
    pub noise_rng: Pcg64Mcg,
    /// Training wall time so far, in seconds.
    pub elapsed_s: f64,
    /// Factor on both configured learning rates (lowered by each rollback after divergence).
    pub lr_scale: f64,
    /// Rollbacks after divergence so far.
    pub rollbacks: u32,
    /// The statistics of the iterations since the last metrics line, so a resumed run's
    /// next line averages the same iterations as an uninterrupted run's.
    pub log_window: Vec<Vec<f32>>,
    /// The best score of the evaluations so far and its iteration (the checkpoint
    /// `checkpoints/best` names), when the run scores itself.
    #[serde(default)]
    pub best: Option<BestScore>,
}

/// The best score of a run's evaluations so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestScore {
    /// The score's name (`fid_classifier`, ...).
    pub score: String,
    /// Its value.
    pub value: f64,
    /// The iteration it was reached at.
    pub iteration: u64,
}

impl TrainState {
    /// A fresh state at iteration 0.
    pub fn new(noise_rng: Pcg64Mcg) -> Self {
        Self {
            format: FORMAT,
            iteration: 0,
            loader_epoch: 0,
            loader_batch: 0,
            noise_rng,
            elapsed_s: 0.0,
            lr_scale: 1.0,
            rollbacks: 0,
            log_window: Vec::new(),
            best: None,
        }
    }
}

/// The networks and optimisers of a run, borrowed for saving.
pub struct Snapshot<'a> {
    /// Both networks and their optimisers.
    pub gan: &'a Gan,
    /// Loop state.
    pub state: &'a TrainState,
    /// What the run is.
    pub spec: &'a RunSpec,
    /// The configuration text the spec was made from, if any.
    pub config_text: Option<&'a str>,
}

fn record_bytes(module: impl Module, what: &str, path: &Path) -> Result<Bytes, TrainError> {
    // A BatchNorm keeps the running statistics of its latest forward pass pending until the
    // next one (burn's `RunningState`); `valid` applies them to the shared state, so the
    // record holds what the next iteration would use and a resumed run continues exactly.
    drop(module.valid());
    module
        .into_record()
        .into_bytes()
        .map_err(|e| TrainError::checkpoint(path, format!("cannot encode the {what}: {e}")))
}

/// Writes a checkpoint for `snapshot.state.iteration` under `checkpoints`, points `latest` at
/// it and deletes all but the newest `keep`. Returns its directory.
pub fn save(
    checkpoints: &Path,
    snapshot: &Snapshot<'_>,
    keep: usize,
) -> Result<PathBuf, TrainError> {
    let name = format!("step-{:08}", snapshot.state.iteration);
    let final_dir = write_dir(checkpoints, &name, snapshot)?;
    write_atomic(&checkpoints.join(LATEST), name.as_bytes())?;
    prune(checkpoints, keep)?;
    Ok(final_dir)
}

/// Writes `snapshot` as the run's best checkpoint (`best-NNNNNNNN`), points `best` at it and
/// deletes the previous best. Returns its directory.
pub fn save_best(checkpoints: &Path, snapshot: &Snapshot<'_>) -> Result<PathBuf, TrainError> {
    let name = format!("{BEST}-{:08}", snapshot.state.iteration);
    let final_dir = write_dir(checkpoints, &name, snapshot)?;
    write_atomic(&checkpoints.join(BEST), name.as_bytes())?;
    let stale = std::fs::read_dir(checkpoints)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            file.starts_with(&format!("{BEST}-")) && file != name
        });
    for entry in stale {
        std::fs::remove_dir_all(entry.path()).map_err(|e| TrainError::write(entry.path(), e))?;
    }
    Ok(final_dir)
}

/// The checkpoint directory a pointer file (`checkpoints/latest`, `checkpoints/best`) names,
/// if `path` is one and the checkpoint is complete.
pub fn pointed(path: &Path) -> Option<PathBuf> {
    let small = std::fs::metadata(path).ok()?.len() < 256;
    let name = std::fs::read_to_string(path).ok().filter(|_| small)?;
    let name = name.trim();
    if name.is_empty() || name.contains(['/', '\\']) {
        return None;
    }
    let dir = path.parent()?.join(name);
    dir.join(STATE).is_file().then_some(dir)
}

/// Writes `snapshot` as the checkpoint directory `checkpoints/name`: assembled in a hidden
/// temporary directory and renamed into place whole.
fn write_dir(
    checkpoints: &Path,
    name: &str,
    snapshot: &Snapshot<'_>,
) -> Result<PathBuf, TrainError> {
    let final_dir = checkpoints.join(name);
    let tmp_dir = checkpoints.join(format!(".partial-{name}"));
    if tmp_dir.exists() {
        std::fs::remove_dir_all(&tmp_dir).map_err(|e| TrainError::write(&tmp_dir, e))?;
    }
    std::fs::create_dir_all(&tmp_dir).map_err(|e| TrainError::write(&tmp_dir, e))?;
    let err_path = |file: &str| tmp_dir.join(file);
    let mut files: Vec<(&str, Bytes)> = vec![
        (
            GENERATOR,
            record_bytes(
                snapshot.gan.generator.clone(),
                "generator",
                &err_path(GENERATOR),
            )?,
        ),
        (
            DISCRIMINATOR,
            record_bytes(
                snapshot.gan.discriminator.clone(),
                "discriminator",
                &err_path(DISCRIMINATOR),
            )?,
        ),
        (
            OPTIMIZER_G,
            snapshot
                .gan
                .generator_optimizer
                .into_bytes()
                .map_err(|e| TrainError::checkpoint(err_path(OPTIMIZER_G), e))?,
        ),
        (
            OPTIMIZER_D,
            snapshot
                .gan
                .discriminator_optimizer
                .into_bytes()
                .map_err(|e| TrainError::checkpoint(err_path(OPTIMIZER_D), e))?,
        ),
    ];
    if let Some(ema) = &snapshot.gan.ema {
        let bytes = record_bytes(
            ema.generator.clone(),
            "generator's moving average",
            &err_path(GENERATOR_EMA),
        )?;
        files.push((GENERATOR_EMA, bytes));
    }
    for (file, bytes) in &files {
        write_atomic(&tmp_dir.join(file), bytes)?;
    }
    if let Some(anchors) = &snapshot.gan.lecam_anchors {
        let values: Vec<f32> = anchors
            .clone()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| TrainError::checkpoint(err_path(LECAM), format!("{e:?}")))?;
        let json =
            serde_json::to_vec(&values).map_err(|e| TrainError::checkpoint(err_path(LECAM), e))?;
        write_atomic(&tmp_dir.join(LECAM), &json)?;
    }
    if let Some(ada) = &snapshot.gan.ada {
        let json = serde_json::to_vec(&ada.record())
            .map_err(|e| TrainError::checkpoint(err_path(ADA), e))?;
        write_atomic(&tmp_dir.join(ADA), &json)?;
    }
    let state = serde_json::to_vec_pretty(snapshot.state)
        .map_err(|e| TrainError::checkpoint(err_path(STATE), e))?;
    write_atomic(&tmp_dir.join(STATE), &state)?;
    let spec = serde_json::to_vec_pretty(snapshot.spec)
        .map_err(|e| TrainError::checkpoint(err_path(SPEC), e))?;
    write_atomic(&tmp_dir.join(SPEC), &spec)?;
    if let Some(text) = snapshot.config_text {
        write_atomic(&tmp_dir.join(CONFIG), text.as_bytes())?;
    }
    sync_dir(&tmp_dir);
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| TrainError::write(&final_dir, e))?;
    }
    std::fs::rename(&tmp_dir, &final_dir).map_err(|e| TrainError::write(&final_dir, e))?;
    sync_dir(checkpoints);
    Ok(final_dir)
}

fn step_dirs(checkpoints: &Path) -> Vec<(u64, PathBuf)> {
    let mut dirs: Vec<(u64, PathBuf)> = std::fs::read_dir(checkpoints)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name.strip_prefix("step-")?.parse().ok()?;
            Some((step, e.path()))
        })
        .collect();
    dirs.sort();
    dirs
}

fn prune(checkpoints: &Path, keep: usize) -> Result<(), TrainError> {
    let dirs = step_dirs(checkpoints);
    let excess = dirs.len().saturating_sub(keep.max(1));
    for (_, dir) in dirs.into_iter().take(excess) {
        std::fs::remove_dir_all(&dir).map_err(|e| TrainError::write(&dir, e))?;
    }
    Ok(())
}

/// The newest complete checkpoint under `checkpoints`: the one `latest` names, else the
/// highest step directory.
pub fn latest(checkpoints: &Path) -> Option<PathBuf> {
    if let Some(dir) = pointed(&checkpoints.join(LATEST)) {
        return Some(dir);
    }
    step_dirs(checkpoints)
        .into_iter()
        .rev()
        .map(|(_, d)| d)
        .find(|d| d.join(STATE).is_file())
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>, TrainError> {
    let path = dir.join(file);
    std::fs::read(&path).map_err(|e| TrainError::checkpoint(&path, e))
}

/// Loads `module`'s weights from a `.bpk` record, checking every tensor's name and shape.
pub fn load_module<M: Module>(module: M, path: &Path) -> Result<M, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::checkpoint(path, e))?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| TrainError::checkpoint(path, e))?;
    module
        .try_load_record(record)
        .map_err(|e| TrainError::checkpoint(path, format!("does not fit the model: {e}")))
}

/// Restores a checkpoint directory into `gan` (freshly built networks and optimisers of the
/// same specification). Returns it with the loop state.
pub fn load(dir: &Path, gan: Gan) -> Result<(Gan, TrainState), TrainError> {
    let state: TrainState = serde_json::from_slice(&read(dir, STATE)?)
        .map_err(|e| TrainError::checkpoint(dir.join(STATE), e))?;
    if state.format != FORMAT {
        return Err(TrainError::checkpoint(
            dir.join(STATE),
            format!(
                "format {} is not supported (expected {FORMAT})",
                state.format
            ),
        ));
    }
    let optimizer = |opt: ModuleOptimizer, file: &str| {
        opt.from_bytes(Bytes::from_bytes_vec(read(dir, file)?))
            .map_err(|e| TrainError::checkpoint(dir.join(file), e))
    };
    let ema = match gan.ema {
        Some(mut ema) => {
            ema.generator = load_module(ema.generator, &dir.join(GENERATOR_EMA))?;
            Some(ema)
        }
        None => None,
    };
    let lecam_anchors = match gan.lecam_anchors {
        Some(fresh) => {
            let values: Vec<f32> = serde_json::from_slice(&read(dir, LECAM)?)
                .map_err(|e| TrainError::checkpoint(dir.join(LECAM), e))?;
            if values.len() != 2 || !values.iter().all(|v| v.is_finite()) {
                return Err(TrainError::checkpoint(
                    dir.join(LECAM),
                    "must hold two finite numbers",
                ));
            }
            Some(Tensor::<1>::from_floats(values.as_slice(), &fresh.device()))
        }
        None => None,
    };
    let ada = match gan.ada {
        Some(fresh) => {
            let record: AdaRecord = serde_json::from_slice(&read(dir, ADA)?)
                .map_err(|e| TrainError::checkpoint(dir.join(ADA), e))?;
            let device = fresh.sign_sum.device();
            let restored = AdaState::restore(record, fresh.spec, &device)
                .map_err(|e| TrainError::checkpoint(dir.join(ADA), e))?;
            Some(restored)
        }
        None => None,
    };
    let gan = Gan {
        ema,
        lecam_anchors,
        ada,
        generator: load_module(gan.generator, &dir.join(GENERATOR))?,
        discriminator: load_module(gan.discriminator, &dir.join(DISCRIMINATOR))?,
        generator_optimizer: optimizer(gan.generator_optimizer, OPTIMIZER_G)?,
        discriminator_optimizer: optimizer(gan.discriminator_optimizer, OPTIMIZER_D)?,
        ..gan
    };
    Ok((gan, state))
}

/// The spec of the run that wrote checkpoint directory `dir`.
pub fn spec(dir: &Path) -> Result<RunSpec, TrainError> {
    let path = dir.join(SPEC);
    if !path.is_file() && dir.join(STATE).is_file() {
        return Err(TrainError::checkpoint(
            dir,
            format!("has no {SPEC}: it was written by an older ganforge (format < {FORMAT})"),
        ));
    }
    serde_json::from_slice(&read(dir, SPEC)?).map_err(|e| TrainError::checkpoint(&path, e))
}
