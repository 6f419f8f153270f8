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
    let mut builder = tempfile::Builder::new();
    builder.prefix(".partial-");
    // A temporary file is private (0600); what a run writes is for others to read too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder
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

/// Encodes an image (grey, RGB, any depth `image` supports) as PNG and writes it atomically.
pub fn write_png(path: &Path, image: &image::DynamicImage) -> Result<(), TrainError> {
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| TrainError::write(path, std::io::Error::other(e)))?;
    write_atomic(path, &bytes)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A file written atomically is as readable as one written plainly (0644 under the
    /// process's umask), not private like the temporary file it starts as.
    #[test]
    fn written_files_are_readable_by_others_as_plain_files_are() {
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").unwrap();
        let atomic = dir.path().join("atomic");
        write_atomic(&atomic, b"x").unwrap();
        assert_eq!(mode(&atomic), mode(&plain) & 0o644);
    }
}
