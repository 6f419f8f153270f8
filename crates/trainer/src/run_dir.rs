//! The directory of one run: `runs/<id>-<name>/` with its config, metrics, samples and
//! checkpoints.

use std::path::{Path, PathBuf};

use crate::error::TrainError;

/// File name of the configuration text in a run directory (when the run was given one).
const RESOLVED: &str = "resolved.toml";
/// File name of the run's spec in a run directory: its presence marks a run directory.
const SPEC: &str = "spec.json";
/// Name of the checkpoints' directory inside a run directory.
pub const CHECKPOINTS: &str = "checkpoints";

/// A run's directory and the names of what it holds.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Creates `<runs_root>/<id>-<name>/` with the next free four-digit id.
    pub fn create(runs_root: &Path, name: &str) -> Result<Self, TrainError> {
        std::fs::create_dir_all(runs_root).map_err(|e| TrainError::write(runs_root, e))?;
        let mut next = std::fs::read_dir(runs_root)
            .map_err(|e| TrainError::write(runs_root, e))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.split('-').next()?.parse::<u32>().ok()
            })
            .max()
            .map_or(1, |m| m + 1);
        loop {
            let root = runs_root.join(format!("{next:04}-{name}"));
            match std::fs::create_dir(&root) {
                Ok(()) => {
                    let dir = Self { root };
                    for sub in [dir.samples(), dir.checkpoints()] {
                        std::fs::create_dir_all(&sub).map_err(|e| TrainError::write(&sub, e))?;
                    }
                    return Ok(dir);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
                Err(e) => return Err(TrainError::write(&root, e)),
            }
        }
    }

    /// An existing run directory (it must hold `spec.json`).
    pub fn open(root: &Path) -> Result<Self, TrainError> {
        if !root.join(SPEC).is_file() {
            return Err(TrainError::checkpoint(
                root,
                format!("not a run directory: it has no {SPEC}"),
            ));
        }
        let dir = Self {
            root: root.to_path_buf(),
        };
        for sub in [dir.samples(), dir.checkpoints()] {
            std::fs::create_dir_all(&sub).map_err(|e| TrainError::write(&sub, e))?;
        }
        Ok(dir)
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `resolved.toml`.
    pub fn resolved(&self) -> PathBuf {
        self.root.join(RESOLVED)
    }

    /// `spec.json`.
    pub fn spec(&self) -> PathBuf {
        self.root.join(SPEC)
    }

    /// `metrics.jsonl`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    /// `samples/`.
    pub fn samples(&self) -> PathBuf {
        self.root.join("samples")
    }

    /// `tensorboard/`: the run's event files.
    pub fn tensorboard(&self) -> PathBuf {
        self.root.join("tensorboard")
    }

    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join(CHECKPOINTS)
    }

    /// `curves.png`.
    pub fn curves(&self) -> PathBuf {
        self.root.join("curves.png")
    }

    /// `summary.json`.
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase() {
        let tmp = tempfile::tempdir().unwrap();
        let a = RunDir::create(tmp.path(), "x").unwrap();
        let b = RunDir::create(tmp.path(), "y").unwrap();
        assert!(a.root().ends_with("0001-x"));
        assert!(b.root().ends_with("0002-y"));
        assert!(b.samples().is_dir() && b.checkpoints().is_dir());
        assert!(RunDir::open(a.root()).is_err()); // no spec.json yet
    }

    #[test]
    fn concurrent_runs_get_distinct_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let root = root.clone();
                std::thread::spawn(move || RunDir::create(&root, "same").unwrap().root)
            })
            .collect();
        let mut dirs: Vec<PathBuf> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        dirs.sort();
        dirs.dedup();
        assert_eq!(dirs.len(), 8, "{dirs:?}");
    }
}
