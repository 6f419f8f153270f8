//! Downloads with SHA-256 verification, written atomically so a failed or corrupt download
//! never leaves a file behind.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::DataError;
use crate::idx::decompress_if_gz;

/// Longest a single download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest file accepted (Fashion-MNIST's biggest is 26 MB).
const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// A file to fetch and the SHA-256 (hex) of its contents after gzip decompression, so a
/// mirror that re-compressed the same data is still accepted; or, for an archive published as
/// one file, of the file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// File name, appended to a mirror's base address.
    pub name: String,
    /// Lowercase hex SHA-256 of the decompressed bytes (of the file itself with `whole_file`).
    pub sha256: String,
    /// Whether `sha256` is the digest of the downloaded file as it is.
    pub whole_file: bool,
}

impl RemoteFile {
    /// A file and the expected digest of its decompressed contents.
    pub fn new(name: impl Into<String>, sha256: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            sha256: sha256.into(),
            whole_file: false,
        }
    }

    /// A file and the expected digest of the file as published.
    pub fn whole(name: impl Into<String>, sha256: impl Into<String>) -> Self {
        Self {
            whole_file: true,
            ..Self::new(name, sha256)
        }
    }
}

/// Hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn fetch(url: &str) -> Result<Vec<u8>, DataError> {
    let err = |reason: String| DataError::Download {
        url: url.to_string(),
        reason,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(DOWNLOAD_TIMEOUT))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| err(e.to_string()))?;
    response
        .body_mut()
        .with_config()
        .limit(MAX_BYTES)
        .read_to_vec()
        .map_err(|e| err(e.to_string()))
}

fn fetch_verified(url: &str, file: &RemoteFile) -> Result<Vec<u8>, DataError> {
    let bytes = fetch(url)?;
    let digest = match file.whole_file {
        true => sha256_hex(&bytes),
        false => {
            let content = decompress_if_gz(bytes.clone()).map_err(|e| DataError::Download {
                url: url.to_string(),
                reason: format!("not valid gzip data: {e}"),
            })?;
            sha256_hex(&content)
        }
    };
    if digest != file.sha256 {
        return Err(DataError::Download {
            url: url.to_string(),
            reason: format!(
                "checksum mismatch: got sha256 {digest}, expected {}",
                file.sha256
            ),
        });
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over the destination.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("download"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(DataError::io(path, e));
    }
    Ok(())
}

/// Downloads each of `files` from the first of `mirrors` that serves it with the right
/// checksum, into `dest`. A file that fails verification on every mirror is not written, and
/// the error lists what each mirror answered.
pub fn download_files(
    mirrors: &[String],
    files: &[RemoteFile],
    dest: &Path,
) -> Result<(), DataError> {
    if mirrors.is_empty() {
        return Err(DataError::Invalid("no download mirrors configured".into()));
    }
    for file in files {
        let mut failures = Vec::new();
        let mut done = false;
        for mirror in mirrors {
            let url = format!("{}/{}", mirror.trim_end_matches('/'), file.name);
            match fetch_verified(&url, file) {
                Ok(bytes) => {
                    write_atomic(&dest.join(&file.name), &bytes)?;
                    done = true;
                    break;
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        if !done {
            return Err(DataError::Download {
                url: file.name.clone(),
                reason: failures.join("; "),
            });
        }
    }
    Ok(())
}
