//! The time admission reads: the system's, or one a test sets, so `meshc test` can replay
//! requests at chosen instants (the sixth request within a minute, a token past its `exp`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::limit::Clock;

/// Where admission takes the time from.
#[derive(Debug, Clone, Default)]
pub enum AdmitClock {
    /// The system's clocks (monotonic for rate limits, wall time for tokens).
    #[default]
    System,
    /// Nanoseconds since the Unix epoch, set with [`AdmitClock::set`].
    Manual(Arc<AtomicU64>),
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl AdmitClock {
    /// A clock that reads `start` until it is set again.
    pub fn manual(start: SystemTime) -> Self {
        AdmitClock::Manual(Arc::new(AtomicU64::new(nanos(start))))
    }

    /// Moves a manual clock to `time` (a system clock is left alone).
    pub fn set(&self, time: SystemTime) {
        if let AdmitClock::Manual(now) = self {
            now.store(nanos(time), Ordering::Release);
        }
    }

    /// The clock new rate-limit buckets measure with.
    pub fn limit_clock(&self) -> Clock {
        match self {
            AdmitClock::System => Clock::start(),
            AdmitClock::Manual(now) => Clock::Manual(Arc::clone(now)),
        }
    }

    /// Seconds since the Unix epoch (for token times).
    pub fn unix_seconds(&self) -> u64 {
        match self {
            AdmitClock::System => nanos(SystemTime::now()) / 1_000_000_000,
            AdmitClock::Manual(now) => now.load(Ordering::Acquire) / 1_000_000_000,
        }
    }
}
