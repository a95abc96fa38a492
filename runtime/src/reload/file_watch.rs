//! Reload on file change, by polling: every interval, compare the modification time and size of
//! the served bundle's files (bundle and signature, or every source including includes) and of
//! the `.mesh` files under the given directories. Polling needs no platform watcher and sees
//! editors' rename-over writes the same as in-place ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::load::ProgramInput;

use super::reloader::Reloader;

type Fingerprint = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

/// Polls forever (until the task is dropped), reloading when the fingerprint changes.
pub async fn watch_files(reloader: Arc<Reloader>, interval: Duration) {
    let mut last = fingerprint(&reloader);
    loop {
        tokio::time::sleep(interval).await;
        let now = fingerprint(&reloader);
        if now != last {
            // A refused bundle is not retried until its files change again.
            let _ = reloader.reload("file").await;
            last = fingerprint(&reloader);
        }
    }
}

fn fingerprint(reloader: &Reloader) -> Fingerprint {
    let mut paths = reloader.files();
    if let ProgramInput::Sources(inputs) = reloader.input() {
        for input in inputs {
            collect_mesh_files(input, &mut paths, 0);
        }
    }
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .map(|path| {
            let stamp = std::fs::metadata(&path)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
            (path, stamp)
        })
        .collect()
}

fn collect_mesh_files(path: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 32 {
        return;
    }
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            collect_mesh_files(&entry.path(), out, depth + 1);
        }
    } else if path.extension().is_some_and(|e| e == "mesh") {
        out.push(path.to_path_buf());
    }
}
