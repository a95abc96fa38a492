//! A scratch directory for one test, removed when the test ends, whether it passed or not.

use std::ops::Deref;
use std::path::Path;

/// A fresh, uniquely named directory under the system's temp dir, named `meshc-{name}-…`.
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("meshc-{name}-"))
            .tempdir()
            .expect("scratch dir");
        Scratch(dir)
    }
}

impl Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}
