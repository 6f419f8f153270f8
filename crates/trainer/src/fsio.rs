//! Atomic file writes: a temporary file beside the target, flushed to disk, renamed over it.
//! A run killed at any instant leaves either the old file or the new one, never half of one.

use std::io::Write;
use std::path::Path;

use crate::error::TrainError;

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)
        .map_err(|e| TrainError::write(dir, e))?;
    tmp.write_all(bytes)
        .map_err(|e| TrainError::write(path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| TrainError::write(path, e))?;
    tmp.persist(path)
        .map_err(|e| TrainError::write(path, e.error))?;
    Ok(())
}

/// Flushes a directory's entries (renames within it) to disk, where the platform allows.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Encodes an image buffer as PNG and writes it atomically.
pub fn write_png<P, C>(path: &Path, image: &image::ImageBuffer<P, C>) -> Result<(), TrainError>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| TrainError::write(path, std::io::Error::other(e)))?;
    write_atomic(path, &bytes)
}
