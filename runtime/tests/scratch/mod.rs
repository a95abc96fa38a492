//! A scratch directory for one test, removed when the test ends, whether it passed or not. The
//! one kind every runtime test uses (the support modules re-export it).

// Not every test uses every method.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A fresh, uniquely named directory under the system's temp dir, named `meshd-{name}-…`.
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    /// A fresh directory for test `name`.
    pub fn new(name: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("meshd-{name}-"))
            .tempdir()
            .expect("a scratch directory");
        Scratch(dir)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        self.0.path()
    }

    /// A path inside.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes `name` inside and returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}
