//! The errors of a training run, and which of them are the user's input.

use std::path::PathBuf;

use ganforge_backend::BackendError;
use ganforge_data::DataError;
use ganforge_models::ModelError;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A setting is of the right type but impossible, alone or with the others.
    #[error("setting `{key}` = {value}: {reason}")]
    Invalid {
        /// Dotted path of the setting (its TOML key, e.g. `train.batch_size`, or a
        /// command-line option).
        key: &'static str,
        /// The value given.
        value: String,
        /// Why it is impossible.
        reason: String,
    },
    /// The backend is unknown, not compiled in, or cannot start.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The data cannot be found or read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The model cannot be built with these sizes.
    #[error("model: {0}")]
    Model(#[from] ModelError),
    /// A checkpoint cannot be read or does not match the run.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Writing run output failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A loss or a weight became NaN or infinite.
    #[error("training diverged at iteration {iteration}: {what}; {}", last_good_advice(.last_good))]
    Diverged {
        /// The iteration where it was seen (the end of the log window or the checkpoint due).
        iteration: u64,
        /// What was not finite.
        what: String,
        /// The newest checkpoint, which holds finite weights (none is ever written otherwise).
        last_good: Option<PathBuf>,
    },
}

impl TrainError {
    /// Whether the error is about the user's input (exit code 2) rather than the run itself.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, TrainError::Write { .. } | TrainError::Diverged { .. })
    }

    /// An impossible setting: `key` (a dotted TOML key or a command-line option) = `value`.
    pub fn invalid(key: &'static str, value: impl ToString, reason: impl Into<String>) -> Self {
        TrainError::Invalid {
            key,
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// A failed write of `path`.
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Write {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn checkpoint(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        TrainError::Checkpoint {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}

fn last_good_advice(last_good: &Option<PathBuf>) -> String {
    match last_good {
        Some(path) => format!(
            "the last good checkpoint is {}: resume from it with lower learning rates, or set \
             train.on_divergence = \"rollback\"",
            path.display()
        ),
        None => "no checkpoint had been written yet: start again with lower learning rates".into(),
    }
}
