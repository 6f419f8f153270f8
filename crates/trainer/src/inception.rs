//! Finding, checking and loading the weights of the FID Inception-v3 (pytorch-fid's
//! `pt_inception-2015-12-05-6726825d.pth`, the TensorFlow FID network's weights).
//!
//! Lookup order, as for datasets: a file the user named, `$GANFORGE_DATA/inception/`, the
//! per-user cache, then a download into the cache (not with `GANFORGE_OFFLINE=1`). Whatever
//! the source, the file's SHA-256 must be the published one: FID is only comparable between
//! papers in exactly these weights.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use ganforge_data::{Findable, LocateOptions, RemoteFile, Split, locate};
use ganforge_models::FidInception;
use sha2::{Digest, Sha256};

use crate::error::TrainError;

/// The published weight file's name.
pub const WEIGHTS_FILE: &str = "pt_inception-2015-12-05-6726825d.pth";
/// Its SHA-256.
pub const WEIGHTS_SHA256: &str = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2";
/// Where pytorch-fid publishes it.
const MIRROR: &str = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights";
/// The option that names a weight file.
const KEY: &str = "--inception-weights";

/// Which Inception weights to score with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InceptionWeights {
    /// The published weights: at this path when given, else found or downloaded; their
    /// SHA-256 is checked.
    Published(Option<PathBuf>),
    /// Any state dict with the same keys, unchecked (a network trained for other data, a
    /// test's random network). Scores in them are not the papers' FID.
    Unverified(PathBuf),
}

/// The network and the file it was loaded from.
#[derive(Debug)]
pub struct LoadedInception {
    /// The network.
    pub model: FidInception,
    /// The weights asked for.
    pub weights: InceptionWeights,
    /// The weight file.
    pub path: PathBuf,
    /// Its SHA-256 (hex).
    pub sha256: String,
}

/// The published weight file as [`locate`] finds it.
struct PublishedWeights;

impl Findable for PublishedWeights {
    fn name(&self) -> &'static str {
        "inception"
    }
    fn system_dirs(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    fn holds(&self, dir: &Path, _: Split) -> bool {
        dir.join(WEIGHTS_FILE).is_file()
    }
    fn wanted(&self, _: Split) -> String {
        WEIGHTS_FILE.to_string()
    }
    fn mirrors(&self) -> Vec<String> {
        vec![MIRROR.to_string()]
    }
    fn remote(&self, _: Split) -> Vec<RemoteFile> {
        vec![RemoteFile::whole(WEIGHTS_FILE, WEIGHTS_SHA256)]
    }
}

/// Loads the network with `weights`, checking the published file's digest.
pub fn load_inception(
    weights: &InceptionWeights,
    device: &Device,
) -> Result<LoadedInception, TrainError> {
    let (path, verify) = match weights {
        InceptionWeights::Published(Some(path)) => (path.clone(), true),
        InceptionWeights::Published(None) => (find_published()?, true),
        InceptionWeights::Unverified(path) => (path.clone(), false),
    };
    let bytes = std::fs::read(&path)
        .map_err(|e| TrainError::invalid(KEY, path.display(), format!("cannot read it: {e}")))?;
    let sha256 = hex(&Sha256::digest(&bytes));
    drop(bytes);
    if verify && sha256 != WEIGHTS_SHA256 {
        return Err(TrainError::invalid(
            KEY,
            path.display(),
            format!(
                "not pytorch-fid's {WEIGHTS_FILE}: its SHA-256 is {sha256}, the published \
                 file's {WEIGHTS_SHA256} (FID is comparable only in exactly those weights)"
            ),
        ));
    }
    let model = FidInception::load(&path, device)
        .map_err(|e| TrainError::invalid(KEY, path.display(), e.reason))?;
    Ok(LoadedInception {
        model,
        weights: weights.clone(),
        path,
        sha256,
    })
}

/// The published file from `$GANFORGE_DATA/inception/` or the cache, downloaded if needed.
fn find_published() -> Result<PathBuf, TrainError> {
    let options = LocateOptions {
        system_dirs: false,
        ..LocateOptions::from_env(None)
    };
    let (dir, _) = locate(&PublishedWeights, Split::Train, &options)?;
    Ok(dir.join(WEIGHTS_FILE))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
