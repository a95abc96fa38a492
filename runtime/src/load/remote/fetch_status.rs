//! What the admin endpoint and the metrics say about a bundle URL: the last fetch and its
//! outcome, the last success, consecutive failures, the served bundle's `ETag`, and whether the
//! bundle served came from the last-known-good cache.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

/// How one fetch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    /// A new bundle was fetched, checked and is now served.
    Updated,
    /// 200, but the bundle is the one already served.
    Unchanged,
    /// 304: the server has nothing new.
    NotModified,
    /// The server answered with a bundle that was refused (schema, digest, signature, serial, …).
    Refused,
    /// The server could not be reached or answered an error.
    Error,
}

impl FetchOutcome {
    /// Every outcome, in metric order.
    pub const ALL: [FetchOutcome; 5] = [
        FetchOutcome::Updated,
        FetchOutcome::Unchanged,
        FetchOutcome::NotModified,
        FetchOutcome::Refused,
        FetchOutcome::Error,
    ];

    /// The label and JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchOutcome::Updated => "updated",
            FetchOutcome::Unchanged => "unchanged",
            FetchOutcome::NotModified => "not_modified",
            FetchOutcome::Refused => "refused",
            FetchOutcome::Error => "error",
        }
    }

    /// Whether the server was reached and nothing was wrong.
    pub fn is_success(self) -> bool {
        !matches!(self, FetchOutcome::Refused | FetchOutcome::Error)
    }

    fn index(self) -> usize {
        match self {
            FetchOutcome::Updated => 0,
            FetchOutcome::Unchanged => 1,
            FetchOutcome::NotModified => 2,
            FetchOutcome::Refused => 3,
            FetchOutcome::Error => 4,
        }
    }
}

/// A copy of the status at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchSnapshot {
    /// The bundle URL.
    pub url: String,
    /// When the last fetch ended.
    pub last_fetch_at: Option<SystemTime>,
    /// How it ended.
    pub last_outcome: Option<FetchOutcome>,
    /// Why it failed, when it did.
    pub last_error: Option<String>,
    /// When a fetch last succeeded (updated, unchanged or not modified).
    pub last_success_at: Option<SystemTime>,
    /// Failures (errors and refusals) since the last success.
    pub consecutive_failures: u32,
    /// The `ETag` of the bundle served.
    pub etag: Option<String>,
    /// The `Last-Modified` of the bundle served.
    pub last_modified: Option<String>,
    /// True while the bundle served was read from the cache and no fetch has succeeded since.
    pub serving_cache: bool,
    /// The last-known-good cache directory.
    pub cache_dir: Option<String>,
    /// When the next poll is due.
    pub next_poll_at: Option<SystemTime>,
}

/// The live status of one bundle URL.
#[derive(Debug, Default)]
pub struct FetchStatus {
    snapshot: Mutex<FetchSnapshot>,
    counts: [AtomicU64; 5],
}

impl FetchStatus {
    /// The status of `url`, nothing fetched yet.
    pub fn new(url: &str, cache_dir: Option<String>) -> Self {
        FetchStatus {
            snapshot: Mutex::new(FetchSnapshot {
                url: url.to_owned(),
                cache_dir,
                ..FetchSnapshot::default()
            }),
            counts: Default::default(),
        }
    }

    fn update(&self, change: impl FnOnce(&mut FetchSnapshot)) {
        let mut snapshot = self.snapshot.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut snapshot);
    }

    /// Records how a fetch ended (`error`: why it failed).
    pub fn record(&self, outcome: FetchOutcome, error: Option<String>) {
        self.counts[outcome.index()].fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now();
        self.update(|s| {
            s.last_fetch_at = Some(now);
            s.last_outcome = Some(outcome);
            s.last_error = error;
            if outcome.is_success() {
                s.last_success_at = Some(now);
                s.consecutive_failures = 0;
                s.serving_cache = false;
            } else {
                s.consecutive_failures = s.consecutive_failures.saturating_add(1);
            }
        });
    }

    /// Records the validators of the bundle now served, and whether it came from the cache.
    pub fn serving(&self, etag: Option<String>, last_modified: Option<String>, from_cache: bool) {
        self.update(|s| {
            s.etag = etag;
            s.last_modified = last_modified;
            s.serving_cache = from_cache;
        });
    }

    /// Records when the next poll is due.
    pub fn scheduled(&self, at: SystemTime) {
        self.update(|s| s.next_poll_at = Some(at));
    }

    /// Failures since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.snapshot().consecutive_failures
    }

    /// A copy of the status.
    pub fn snapshot(&self) -> FetchSnapshot {
        self.snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Fetches by outcome since start.
    pub fn counts(&self) -> [(FetchOutcome, u64); 5] {
        FetchOutcome::ALL.map(|o| (o, self.counts[o.index()].load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_up_until_a_success_and_a_success_ends_serving_the_cache() {
        let status = FetchStatus::new("http://h/e.json", None);
        status.serving(Some("\"a\"".into()), None, true);
        status.record(FetchOutcome::Error, Some("refused".into()));
        status.record(FetchOutcome::Refused, Some("bad digest".into()));
        let s = status.snapshot();
        assert_eq!(s.consecutive_failures, 2);
        assert!(s.serving_cache);
        assert_eq!(s.last_error.as_deref(), Some("bad digest"));
        status.record(FetchOutcome::NotModified, None);
        let s = status.snapshot();
        assert_eq!(s.consecutive_failures, 0);
        assert!(!s.serving_cache);
        assert!(s.last_success_at.is_some());
        assert_eq!(status.counts()[2], (FetchOutcome::NotModified, 1));
        assert_eq!(status.counts()[4], (FetchOutcome::Error, 1));
    }
}
