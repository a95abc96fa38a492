//! Writes PEM files the way certificate tools do: to a temporary file beside the target, with its
//! final mode from creation (0600 for keys, never world-readable even for a moment), synced, then
//! renamed over the target, so a reader (a watching sidecar) sees the old file or the new one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Who may read a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// Owner only (0600): private keys.
    Secret,
    /// Anyone (0644): certificates and bundles.
    Public,
}

/// Writes `contents` to `path` atomically with `mode`.
pub fn write_pem(path: &Path, contents: &str, mode: FileMode) -> std::io::Result<()> {
    let temp = temp_path(path);
    let result = write_new(&temp, contents, mode).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn write_new(path: &Path, contents: &str, mode: FileMode) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(match mode {
            FileMode::Secret => 0o600,
            FileMode::Public => 0o644,
        });
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Creates `dir` (and parents) if needed; a directory meshd creates for keys is owner-only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
