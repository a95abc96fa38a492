//! The last-known-good cache: every bundle accepted from the server is kept on disk, so a meshd
//! that starts while the server is unreachable serves the last bundle it accepted instead of
//! refusing to start.
//!
//! Layout of the cache directory (one per meshd instance):
//!
//! ```text
//! <hex digest>.json       the bundle's bytes as fetched
//! <hex digest>.json.sig   its signature, when one was fetched
//! current.json            {"url", "digest", "serial", "etag", "last_modified", "fetched_at"}
//! ```
//!
//! Each file is written to a temporary name, flushed and renamed; `current.json` is renamed
//! last, so a crash at any point leaves either the previous bundle current or the new one, never
//! a mix. Bundles other than the current one are removed afterwards. `meshd validate
//! <dir>/<hex>.json --verify-key KEY` checks a cached bundle by hand.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What the cache says about the bundle it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheRecord {
    /// Where it was fetched.
    pub url: String,
    /// Its digest (`sha256:…`).
    pub digest: String,
    /// Its serial.
    pub serial: u64,
    /// The `ETag` it was served with.
    pub etag: Option<String>,
    /// The `Last-Modified` it was served with.
    pub last_modified: Option<String>,
    /// When it was fetched (RFC 3339).
    pub fetched_at: String,
}

/// A bundle read back from the cache (not yet checked).
#[derive(Debug, Clone)]
pub struct CachedBundle {
    /// The record.
    pub record: CacheRecord,
    /// The bundle file.
    pub path: PathBuf,
    /// The bundle's bytes.
    pub bytes: Vec<u8>,
    /// Its signature text, if cached.
    pub signature: Option<String>,
}

/// Why the cache could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A file could not be read or written.
    #[error("cache {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `current.json` is not what meshd writes.
    #[error("cache {}: not a cache record ({reason})", path.display())]
    Record {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

const CURRENT: &str = "current.json";

/// A cache directory.
#[derive(Debug, Clone)]
pub struct BundleCache {
    dir: PathBuf,
}

impl BundleCache {
    /// Uses `dir`, creating it if needed.
    pub fn open(dir: &Path) -> Result<BundleCache, CacheError> {
        std::fs::create_dir_all(dir).map_err(|source| CacheError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(BundleCache {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps an accepted bundle as the last known good one.
    pub fn store(
        &self,
        bytes: &[u8],
        signature: Option<&str>,
        record: &CacheRecord,
    ) -> Result<(), CacheError> {
        let name = file_name(&record.digest).ok_or_else(|| CacheError::Record {
            path: self.dir.join(CURRENT),
            reason: format!("digest {:?}", record.digest),
        })?;
        let bundle = self.dir.join(&name);
        let signature_path = self.dir.join(format!("{name}.sig"));
        write_atomically(&bundle, bytes)?;
        match signature {
            Some(text) => write_atomically(&signature_path, text.as_bytes())?,
            None => remove_if_present(&signature_path)?,
        }
        let text = serde_json::to_vec_pretty(record).map_err(|e| CacheError::Record {
            path: self.dir.join(CURRENT),
            reason: e.to_string(),
        })?;
        write_atomically(&self.dir.join(CURRENT), &text)?;
        sync_directory(&self.dir);
        self.remove_others(&name);
        Ok(())
    }

    /// The cached bundle, if any.
    pub fn load(&self) -> Result<Option<CachedBundle>, CacheError> {
        let current = self.dir.join(CURRENT);
        let text = match std::fs::read(&current) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(CacheError::Io {
                    path: current,
                    source,
                })
            }
        };
        let record: CacheRecord =
            serde_json::from_slice(&text).map_err(|e| CacheError::Record {
                path: current.clone(),
                reason: e.to_string(),
            })?;
        let name = file_name(&record.digest).ok_or_else(|| CacheError::Record {
            path: current.clone(),
            reason: format!("digest {:?}", record.digest),
        })?;
        let path = self.dir.join(&name);
        let bytes = std::fs::read(&path).map_err(|source| CacheError::Io {
            path: path.clone(),
            source,
        })?;
        let signature_path = self.dir.join(format!("{name}.sig"));
        let signature = match std::fs::read_to_string(&signature_path) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(CacheError::Io {
                    path: signature_path,
                    source,
                })
            }
        };
        Ok(Some(CachedBundle {
            record,
            path,
            bytes,
            signature,
        }))
    }

    /// Removes bundles (and signatures, and leftover temporaries) other than `keep`.
    fn remove_others(&self, keep: &str) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = name.starts_with(keep) || name == CURRENT;
            let cached =
                name.ends_with(".json") || name.ends_with(".sig") || name.contains(".tmp-");
            if cached && !ours && file_name_prefix_is_digest(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// `<hex>.json` for a `sha256:<hex>` digest; `None` for anything else (so a damaged record can
/// never name a path outside the directory).
fn file_name(digest: &str) -> Option<String> {
    let hex = digest.strip_prefix("sha256:")?;
    let valid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| format!("{hex}.json"))
}

fn file_name_prefix_is_digest(name: &str) -> bool {
    name.len() >= 64 && name.as_bytes()[..64].iter().all(u8::is_ascii_hexdigit)
}

fn remove_if_present(path: &Path) -> Result<(), CacheError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(CacheError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let io = |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    };
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(io(error));
    }
    Ok(())
}

/// Makes the renames durable (best effort: not every file system supports it).
fn sync_directory(dir: &Path) {
    if let Ok(directory) = std::fs::File::open(dir) {
        let _ = directory.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory, removed when dropped, and the cache's directory inside it.
    fn cache_dir() -> (tempfile::TempDir, PathBuf) {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("cache");
        (scratch, dir)
    }

    fn record(digest_byte: char, serial: u64) -> CacheRecord {
        CacheRecord {
            url: "http://h/edge.json".into(),
            digest: format!("sha256:{}", digest_byte.to_string().repeat(64)),
            serial,
            etag: Some("\"e1\"".into()),
            last_modified: None,
            fetched_at: "2026-12-06T00:00:00Z".into(),
        }
    }

    #[test]
    fn an_empty_cache_holds_nothing() {
        let (_scratch, dir) = cache_dir();
        let cache = BundleCache::open(&dir).unwrap();
        assert!(cache.load().unwrap().is_none());
    }

    #[test]
    fn the_last_stored_bundle_is_current_and_older_ones_are_removed() {
        let (_scratch, dir) = cache_dir();
        let cache = BundleCache::open(&dir).unwrap();
        cache
            .store(b"first", Some("sig-a"), &record('a', 1))
            .unwrap();
        cache.store(b"second", None, &record('b', 2)).unwrap();
        let cached = cache.load().unwrap().unwrap();
        assert_eq!(cached.bytes, b"second");
        assert_eq!(cached.signature, None);
        assert_eq!(cached.record, record('b', 2));
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [format!("{}.json", "b".repeat(64)), "current.json".into()]
        );

        cache
            .store(b"third", Some("sig-c"), &record('c', 3))
            .unwrap();
        let cached = BundleCache::open(&dir).unwrap().load().unwrap().unwrap();
        assert_eq!(cached.signature.as_deref(), Some("sig-c"));
    }

    #[test]
    fn a_damaged_record_is_an_error_not_a_path() {
        let (_scratch, dir) = cache_dir();
        let cache = BundleCache::open(&dir).unwrap();
        std::fs::write(dir.join(CURRENT), "{\"nonsense\": true}").unwrap();
        assert!(matches!(cache.load(), Err(CacheError::Record { .. })));
        let mut evil = record('a', 1);
        evil.digest = "sha256:../../etc/passwd".into();
        std::fs::write(dir.join(CURRENT), serde_json::to_vec(&evil).unwrap()).unwrap();
        assert!(matches!(cache.load(), Err(CacheError::Record { .. })));
        assert!(cache.store(b"x", None, &evil).is_err());
    }
}
