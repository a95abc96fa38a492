//! A coarse monotonic clock in milliseconds, so deadlines fit in atomics shared between workers.

use std::sync::OnceLock;
use std::time::Instant;

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Milliseconds since the first call in this process (never 0, so 0 can mean "unset").
pub fn now_ms() -> u64 {
    u64::try_from(origin().elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}
