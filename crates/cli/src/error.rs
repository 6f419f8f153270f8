//! The command line's errors: a configuration that cannot be read, or a run that failed.

use std::path::PathBuf;

use ganforge_trainer::TrainError;

/// A configuration that cannot be read or does not fit the schema.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not valid TOML.
    #[error("invalid TOML: {message}")]
    Syntax {
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key is unknown, missing, or of the wrong type.
    #[error("config key `{key}`: {message}")]
    Schema {
        /// Dotted path of the offending key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A `--set` item is malformed.
    #[error("--set {item}: {reason}")]
    Override {
        /// The item as given.
        item: String,
        /// What is wrong.
        reason: String,
    },
    /// An error located in a file.
    #[error("{path}: {inner}")]
    InFile {
        /// The file.
        path: PathBuf,
        /// The error.
        inner: Box<ConfigError>,
    },
}

impl ConfigError {
    pub(crate) fn in_file(self, path: &std::path::Path) -> Self {
        ConfigError::InFile {
            path: path.to_path_buf(),
            inner: Box::new(self),
        }
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration cannot be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The command failed, or a setting is impossible.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A signal stopped the run after a checkpoint.
    #[error("interrupted")]
    Interrupted,
}

impl CliError {
    /// Whether the error is about the user's input rather than the run itself.
    pub fn is_bad_input(&self) -> bool {
        match self {
            CliError::Config(_) => true,
            CliError::Train(e) => e.is_bad_input(),
            CliError::Interrupted => false,
        }
    }

    /// The process's exit code: 2 for bad input, 130 for a run stopped by a signal (as
    /// shells report Ctrl-C), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Interrupted => 130,
            e if e.is_bad_input() => 2,
            _ => 1,
        }
    }
}

/// Errors the trainer also reports, taken as it reports them.
macro_rules! via_train_error {
    ($($error:ty),*) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> Self {
                CliError::Train(e.into())
            }
        }
    )*};
}

via_train_error!(
    ganforge_backend::BackendError,
    ganforge_data::DataError,
    ganforge_models::ModelError
);
