//! Real parts for the fleet tests: meshd processes, an nginx serving bundles, a CI-like
//! publisher, and scratch directories.
#![allow(dead_code)]

pub mod meshd_process;
pub mod nginx;
pub mod noida;
pub mod publish;
pub mod redis_server;

use std::path::{Path, PathBuf};

/// A scratch directory unique to one test, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A fresh directory named after `test`.
    pub fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("meshd-fleet-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// A path inside.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
