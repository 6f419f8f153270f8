//! Finding a dataset on disk, or fetching it.
//!
//! Lookup order: an explicit directory (`--data DIR` or the config), `$GANFORGE_DATA/<name>`,
//! system directories (Debian's dataset packages), the per-user cache, then a download from
//! the canonical mirrors into the cache.

use std::path::{Path, PathBuf};

use crate::DataError;
use crate::download::{RemoteFile, download_files};
use crate::idx::Split;

/// A dataset that [`locate`] can find or download: where it may lie and what it is made of.
pub trait Findable {
    /// The directory name under `$GANFORGE_DATA` and the cache.
    fn name(&self) -> &'static str;
    /// Standard system directories that may hold it.
    fn system_dirs(&self) -> Vec<PathBuf>;
    /// Whether `dir` holds the files of `split`.
    fn holds(&self, dir: &Path, split: Split) -> bool;
    /// The files of `split`, for messages.
    fn wanted(&self, split: Split) -> String;
    /// Download mirrors, tried in order.
    fn mirrors(&self) -> Vec<String>;
    /// The files to download for `split`, with their digests.
    fn remote(&self, split: Split) -> Vec<RemoteFile>;
}

/// Where a dataset was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSource {
    /// The directory the user named.
    Explicit,
    /// `$GANFORGE_DATA/<dataset>`.
    Environment,
    /// A system-wide directory.
    System,
    /// The per-user cache.
    Cache,
    /// Downloaded into the cache just now.
    Downloaded,
}

/// The inputs of [`locate`], normally taken from the environment by
/// [`LocateOptions::from_env`].
#[derive(Debug, Clone, Default)]
pub struct LocateOptions {
    /// A directory the user named; when set, nothing else is searched.
    pub explicit: Option<PathBuf>,
    /// A root holding one sub-directory per dataset (`$GANFORGE_DATA`).
    pub data_root: Option<PathBuf>,
    /// Whether to search the system directories.
    pub system_dirs: bool,
    /// The cache root (`$GANFORGE_CACHE`, else the per-user cache directory).
    pub cache_root: Option<PathBuf>,
    /// Mirrors to download from; empty means the dataset's canonical ones.
    pub mirrors: Vec<String>,
    /// Whether a download may be attempted (`GANFORGE_OFFLINE=1` forbids it).
    pub allow_download: bool,
}

/// The per-user cache root: `$GANFORGE_CACHE`, else `<cache dir>/ganforge`.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("GANFORGE_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("ganforge")))
}

impl LocateOptions {
    /// Options from the environment: `GANFORGE_DATA`, `GANFORGE_CACHE`, `GANFORGE_MIRROR`
    /// (comma-separated base addresses) and `GANFORGE_OFFLINE`.
    pub fn from_env(explicit: Option<PathBuf>) -> Self {
        let mirrors = std::env::var("GANFORGE_MIRROR")
            .map(|m| {
                m.split(',')
                    .map(str::to_string)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let offline = std::env::var("GANFORGE_OFFLINE").is_ok_and(|v| v != "0" && !v.is_empty());
        Self {
            explicit,
            data_root: std::env::var_os("GANFORGE_DATA")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            system_dirs: true,
            cache_root: cache_dir(),
            mirrors,
            allow_download: !offline,
        }
    }
}

/// Finds the directory holding `split` of `kind`, downloading it if needed.
pub fn locate(
    kind: &impl Findable,
    split: Split,
    options: &LocateOptions,
) -> Result<(PathBuf, DataSource), DataError> {
    if let Some(dir) = &options.explicit {
        return explicit_dir(dir, kind, split).map(|d| (d, DataSource::Explicit));
    }
    let mut searched = Vec::new();
    let mut candidates: Vec<(PathBuf, DataSource)> = Vec::new();
    if let Some(root) = &options.data_root {
        candidates.push((root.join(kind.name()), DataSource::Environment));
    }
    if options.system_dirs {
        candidates.extend(
            kind.system_dirs()
                .into_iter()
                .map(|d| (d, DataSource::System)),
        );
    }
    let cache = options
        .cache_root
        .as_ref()
        .map(|root| root.join(kind.name()));
    if let Some(cache) = &cache {
        candidates.push((cache.clone(), DataSource::Cache));
    }
    for (dir, source) in candidates {
        if kind.holds(&dir, split) {
            return Ok((dir, source));
        }
        searched.push(format!("  {} ({source:?})", dir.display()));
    }
    if options.data_root.is_none() {
        searched.push("  $GANFORGE_DATA (not set)".to_string());
    }
    let files = kind.wanted(split);
    let not_found = |download: String| DataError::NotFound {
        dataset: kind.name().to_string(),
        searched: searched.join("\n"),
        download,
        files: files.clone(),
    };
    let Some(cache) = cache else {
        return Err(not_found(
            "no cache directory is known for this user".into(),
        ));
    };
    if !options.allow_download {
        return Err(not_found(
            "downloads are disabled (GANFORGE_OFFLINE is set)".into(),
        ));
    }
    let mirrors: Vec<String> = if options.mirrors.is_empty() {
        kind.mirrors()
    } else {
        options.mirrors.clone()
    };
    match download_files(&mirrors, &kind.remote(split), &cache) {
        Ok(()) => Ok((cache, DataSource::Downloaded)),
        Err(e) => Err(not_found(e.to_string())),
    }
}

/// A named directory must hold the files itself or in a `<dataset>/` sub-directory.
fn explicit_dir(dir: &Path, kind: &impl Findable, split: Split) -> Result<PathBuf, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingDirectory {
            path: dir.to_path_buf(),
        });
    }
    for candidate in [dir.to_path_buf(), dir.join(kind.name())] {
        if kind.holds(&candidate, split) {
            return Ok(candidate);
        }
    }
    Err(DataError::corrupt(
        dir,
        format!(
            "holds neither {} nor a `{}/` sub-directory with them",
            kind.wanted(split),
            kind.name()
        ),
    ))
}
