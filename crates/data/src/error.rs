use std::path::PathBuf;

/// Why a dataset could not be found, read or downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A directory the user named does not exist.
    #[error("data directory {path} does not exist")]
    MissingDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// A dataset was found nowhere and could not be downloaded.
    #[error(
        "{dataset} not found; looked in:\n{searched}\nand the download failed: {download}\n\
         Supply the files with `--data DIR` (a directory holding {files}, gzipped or not), or \
         set GANFORGE_DATA to a directory with a `{dataset}/` sub-directory"
    )]
    NotFound {
        /// Dataset name.
        dataset: String,
        /// The places looked in, one per line.
        searched: String,
        /// Why the download did not help.
        download: String,
        /// The file names expected.
        files: String,
    },
    /// A file exists but is not what it should be.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A download failed or gave the wrong bytes.
    #[error("download of {url} failed: {reason}")]
    Download {
        /// The address.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A dataset setting is impossible.
    #[error("invalid dataset setting: {0}")]
    Invalid(String),
    /// The background loader thread stopped.
    #[error("the batch loader stopped unexpectedly")]
    LoaderStopped,
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        DataError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
