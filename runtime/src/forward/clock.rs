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

/// A monotonic clock in milliseconds that costs a few instructions (Linux's
/// `CLOCK_MONOTONIC_COARSE`: the time of the last scheduler tick, 1–10 ms behind), for times
/// read on every request whose precision does not matter (how long a connection sat idle).
/// Elsewhere it is [`now_ms`]. Values are comparable only with each other.
#[cfg(target_os = "linux")]
pub fn coarse_now_ms() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `now` is. It cannot fail for this clock
    // (valid since Linux 2.6.32, and the pointer is good).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    u64::try_from(now.tv_sec).unwrap_or(0) * 1000
        + u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000_000
}

/// [`now_ms`] where there is no coarse clock.
#[cfg(not(target_os = "linux"))]
pub fn coarse_now_ms() -> u64 {
    now_ms()
}
