//! The files a served program came from, as the file watcher sees them: the directories to
//! watch, which events concern the program, and a snapshot of each file (a cheap metadata stamp
//! and a content hash) to tell a real change from a no-op event such as `touch`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use notify::RecursiveMode;

use crate::load::ProgramInput;

use super::reloader::Reloader;

/// How deep source directories are searched for `.mesh` files.
const MAX_DEPTH: usize = 32;

/// The program's files and source directories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchedFiles {
    /// Every file: the bundle and its signature, or every source (includes too, and every `.mesh`
    /// file under the source directories).
    pub files: BTreeSet<PathBuf>,
    /// Directories given as sources: any `.mesh` file appearing under them is part of the program.
    pub source_dirs: Vec<PathBuf>,
}

/// What can be learnt about a file without reading it; a change in any of these means the file
/// may have changed (an editor's rename-over write gives a new inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
    inode: u64,
}

/// One file at one moment: `None` when it cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileState {
    /// Its metadata.
    pub stamp: Stamp,
    /// A hash of its content.
    pub content: u64,
}

/// Every watched file at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot(pub BTreeMap<PathBuf, Option<FileState>>);

impl WatchedFiles {
    /// The files of the program `reloader` serves (those of its last successful load, and for
    /// sources every `.mesh` file under the source directories now).
    pub fn of(reloader: &Reloader) -> Self {
        let mut files: BTreeSet<PathBuf> = reloader.files().into_iter().collect();
        let mut source_dirs = Vec::new();
        match reloader.input() {
            ProgramInput::Bundle(path) => {
                files.insert(path.clone());
            }
            ProgramInput::Sources(inputs) => {
                for input in inputs {
                    if input.is_dir() {
                        source_dirs.push(input.clone());
                        collect_mesh_files(input, &mut files, 0);
                    } else {
                        files.insert(input.clone());
                    }
                }
            }
            // A bundle URL is polled, not watched: no local file belongs to it.
            ProgramInput::Remote(_) => {}
        }
        WatchedFiles { files, source_dirs }
    }

    /// The directories to watch: each source directory recursively, and the directory of every
    /// other file (not the file itself: editors and deploy tools replace files by renaming over
    /// them, and Kubernetes swaps a `..data` symlink beside them).
    pub fn watch_targets(&self) -> BTreeMap<PathBuf, RecursiveMode> {
        let mut targets: BTreeMap<PathBuf, RecursiveMode> = self
            .source_dirs
            .iter()
            .map(|dir| (dir.clone(), RecursiveMode::Recursive))
            .collect();
        for file in &self.files {
            if self.source_dirs.iter().any(|dir| file.starts_with(dir)) {
                continue;
            }
            let parent = match file.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            };
            targets.entry(parent).or_insert(RecursiveMode::NonRecursive);
        }
        targets
    }

    /// Whether an event on `path` may concern the program: one of its files, a `.mesh` file under
    /// a source directory, or a `..name` entry (Kubernetes' atomic writer swaps `..data`).
    pub fn is_relevant(&self, path: &Path) -> bool {
        if self.files.contains(path) {
            return true;
        }
        let name = path.file_name().map(|n| n.to_string_lossy());
        if name.as_deref().is_some_and(|n| n.starts_with("..")) {
            return true;
        }
        self.source_dirs.iter().any(|dir| path.starts_with(dir))
            && (path.extension().is_some_and(|e| e == "mesh") || path.is_dir())
    }

    /// Each file's metadata (no content read): what the safety-net poll compares.
    pub fn stamps(&self) -> BTreeMap<PathBuf, Option<Stamp>> {
        self.files
            .iter()
            .map(|path| (path.clone(), stamp(path)))
            .collect()
    }

    /// Each file's metadata and content hash.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(
            self.files
                .iter()
                .map(|path| {
                    let state = stamp(path).and_then(|stamp| {
                        content_hash(path)
                            .ok()
                            .map(|content| FileState { stamp, content })
                    });
                    (path.clone(), state)
                })
                .collect(),
        )
    }
}

impl Snapshot {
    /// Whether any file's content differs from `other`'s, or a file came or went.
    pub fn content_differs(&self, other: &Snapshot) -> bool {
        self.0.len() != other.0.len()
            || self
                .0
                .iter()
                .zip(&other.0)
                .any(|((a, sa), (b, sb))| a != b || sa.map(|s| s.content) != sb.map(|s| s.content))
    }

    /// Whether the files' metadata is what this snapshot recorded.
    pub fn stamps_match(&self, stamps: &BTreeMap<PathBuf, Option<Stamp>>) -> bool {
        self.0.len() == stamps.len()
            && self
                .0
                .iter()
                .zip(stamps)
                .all(|((a, state), (b, stamp))| a == b && state.map(|s| s.stamp) == *stamp)
    }

    /// Records the files of `now` that this snapshot does not know (files a reload started
    /// using), so they are not mistaken for a change.
    pub fn adopt_new_files(&mut self, now: &WatchedFiles) {
        let new: Vec<&PathBuf> = now
            .files
            .iter()
            .filter(|path| !self.0.contains_key(*path))
            .collect();
        for path in new {
            let state = stamp(path).and_then(|stamp| {
                content_hash(path)
                    .ok()
                    .map(|content| FileState { stamp, content })
            });
            self.0.insert(path.clone(), state);
        }
        self.0.retain(|path, _| now.files.contains(path));
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    Some(Stamp {
        len: metadata.len(),
        modified: metadata.modified().ok(),
        changed: (metadata.ctime(), metadata.ctime_nsec()),
        inode: metadata.ino(),
    })
}

/// Hashes a file's content through a fixed buffer. Reading a large bundle whole would make glibc
/// raise its mmap threshold to the bundle's size and keep that much heap resident (12 MB for
/// 10 000 routes).
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

fn collect_mesh_files(path: &Path, out: &mut BTreeSet<PathBuf>, depth: usize) {
    if depth > MAX_DEPTH {
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
        out.insert(path.to_path_buf());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(files: &[&str], dirs: &[&str]) -> WatchedFiles {
        WatchedFiles {
            files: files.iter().map(PathBuf::from).collect(),
            source_dirs: dirs.iter().map(PathBuf::from).collect(),
        }
    }

    #[test]
    fn source_directories_are_watched_recursively_and_other_files_through_their_directory() {
        let files = watched(
            &[
                "/prog/a.mesh",
                "/prog/sub/b.mesh",
                "/shared/inc.mesh",
                "/etc/bundle.json",
            ],
            &["/prog"],
        );
        let targets = files.watch_targets();
        assert_eq!(
            targets.into_iter().collect::<Vec<_>>(),
            vec![
                (PathBuf::from("/etc"), RecursiveMode::NonRecursive),
                (PathBuf::from("/prog"), RecursiveMode::Recursive),
                (PathBuf::from("/shared"), RecursiveMode::NonRecursive),
            ]
        );
    }

    #[test]
    fn events_on_the_program_its_sources_and_atomic_writer_swaps_are_relevant() {
        let files = watched(
            &["/etc/meshd/bundle.json", "/etc/meshd/bundle.json.sig"],
            &["/prog"],
        );
        assert!(files.is_relevant(Path::new("/etc/meshd/bundle.json")));
        assert!(files.is_relevant(Path::new("/etc/meshd/bundle.json.sig")));
        assert!(files.is_relevant(Path::new("/etc/meshd/..data")));
        assert!(files.is_relevant(Path::new("/prog/new/edge.mesh")));
        assert!(!files.is_relevant(Path::new("/etc/meshd/other.json")));
        assert!(!files.is_relevant(Path::new("/prog/notes.txt")));
        assert!(!files.is_relevant(Path::new("/prog/.edge.mesh.swp")));
    }

    #[test]
    fn snapshots_compare_content_not_metadata() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_path_buf();
        let path = dir.join("a.mesh");
        std::fs::write(&path, "one").unwrap();
        let files = WatchedFiles {
            files: [path.clone()].into_iter().collect(),
            source_dirs: Vec::new(),
        };
        let before = files.snapshot();
        // Rewritten with the same content (a new inode): a no-op.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "one").unwrap();
        assert!(!files.snapshot().content_differs(&before));
        std::fs::write(&path, "two").unwrap();
        let after = files.snapshot();
        assert!(after.content_differs(&before));
        assert!(after.stamps_match(&files.stamps()));
        std::fs::remove_file(&path).unwrap();
        assert!(files.snapshot().content_differs(&after));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
