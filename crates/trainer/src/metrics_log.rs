//! `metrics.jsonl`: one JSON object per logged iteration.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::fsio::write_atomic;

/// One logged point of a run, averaged over the iterations since the previous one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsLine {
    /// Iterations completed.
    pub iteration: u64,
    /// Passes over the data completed (fractional).
    pub epoch: f64,
    /// Discriminator loss.
    pub loss_d: f32,
    /// Generator loss.
    pub loss_g: f32,
    /// Mean D(x) on real batches, as a probability.
    pub d_real: f32,
    /// Mean D(G(z)) on generated batches during the discriminator step, as a probability.
    pub d_fake: f32,
    /// Real images consumed per second over the window.
    pub images_per_s: f64,
    /// Training wall time so far, in seconds.
    pub wall_s: f64,
    /// The objective's further statistics (e.g. AC-GAN's class losses), by name.
    #[serde(default, flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, f32>,
}

/// Appends [`MetricsLine`]s to a file.
pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Opens `path` for appending, first dropping any line past `resume_iteration` (lines a
    /// stopped run wrote after its last checkpoint, which the resumed run writes again).
    pub fn open(path: &Path, resume_iteration: Option<u64>) -> Result<Self, TrainError> {
        if let Some(keep_until) = resume_iteration {
            let kept: Vec<MetricsLine> = read_lines(path)?
                .into_iter()
                .filter(|l| l.iteration <= keep_until)
                .collect();
            let mut text = String::new();
            for line in &kept {
                text.push_str(&to_json(line, path)?);
                text.push('\n');
            }
            write_atomic(path, text.as_bytes())?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| TrainError::write(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one line and flushes it.
    pub fn append(&mut self, line: &MetricsLine) -> Result<(), TrainError> {
        let mut text = to_json(line, &self.path)?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(|e| TrainError::write(&self.path, e))
    }
}

fn to_json(line: &MetricsLine, path: &Path) -> Result<String, TrainError> {
    serde_json::to_string(line).map_err(|e| TrainError::write(path, std::io::Error::other(e)))
}

/// Reads every well-formed line of a metrics file (a missing file is empty; a torn last
/// line from a killed run is skipped).
pub fn read_lines(path: &Path) -> Result<Vec<MetricsLine>, TrainError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::write(path, e)),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(iteration: u64) -> MetricsLine {
        MetricsLine {
            iteration,
            epoch: 0.0,
            loss_d: 1.0,
            loss_g: 2.0,
            d_real: 0.5,
            d_fake: 0.5,
            images_per_s: 1.0,
            wall_s: 1.0,
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn resume_drops_lines_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        let mut log = MetricsLog::open(&path, None).unwrap();
        for i in [10, 20, 30] {
            log.append(&line(i)).unwrap();
        }
        drop(log);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"iteration\": 4")
            .unwrap();
        let mut log = MetricsLog::open(&path, Some(20)).unwrap();
        log.append(&line(30)).unwrap();
        let its: Vec<u64> = read_lines(&path)
            .unwrap()
            .iter()
            .map(|l| l.iteration)
            .collect();
        assert_eq!(its, vec![10, 20, 30]);
    }
}
