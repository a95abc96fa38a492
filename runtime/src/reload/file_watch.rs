//! Reload on file change, by polling: every interval, compare the size, modification time and a
//! hash of the content of the served bundle's files (bundle and signature, or every source
//! including includes) and of the `.mesh` files under the given directories. Polling needs no
//! platform watcher and sees editors' rename-over writes the same as in-place ones; the content
//! hash catches same-size edits within one tick of a coarse file-system clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::load::ProgramInput;

use super::reloader::Reloader;

type Fingerprint = Vec<(PathBuf, Option<(SystemTime, u64, u64)>)>;

/// Polls forever (until the task is dropped), reloading when the files differ from what they
/// were when this was called (the fingerprint is taken before the returned future first runs, so
/// an edit made right after start is not mistaken for the baseline).
pub fn watch_files(
    reloader: Arc<Reloader>,
    interval: Duration,
) -> impl std::future::Future<Output = ()> {
    let baseline = fingerprint(&reloader);
    poll_files(reloader, interval, baseline)
}

async fn poll_files(reloader: Arc<Reloader>, interval: Duration, mut last: Fingerprint) {
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
            let stamp = std::fs::metadata(&path).ok().map(|m| {
                let content = content_hash(&path).unwrap_or(0);
                (
                    m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    m.len(),
                    content,
                )
            });
            (path, stamp)
        })
        .collect()
}

/// Hashes a file's content through a fixed buffer. Reading a large bundle whole every second
/// would make glibc raise its mmap threshold to the bundle's size and keep that much heap
/// resident between polls (12 MB for 10 000 routes).
fn content_hash(path: &Path) -> std::io::Result<u64> {
    use std::hash::{BuildHasher, Hasher};
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = foldhash::fast::FixedState::with_seed(1).build_hasher();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hasher.finish());
        }
        hasher.write(&buffer[..read]);
    }
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
