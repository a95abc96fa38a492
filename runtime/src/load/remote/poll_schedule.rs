//! When to poll next: every `interval` plus a random part of `jitter` (so a fleet started
//! together does not hit the server together), doubled after each consecutive failure up to
//! `max_backoff` (so an outage or a bad bundle is not hammered), back to the interval after a
//! success.

use std::time::Duration;

/// The polling rhythm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSchedule {
    /// The wait between polls while all is well.
    pub interval: Duration,
    /// A random extra wait in `[0, jitter]` added to every wait.
    pub jitter: Duration,
    /// The longest wait after failures (before jitter).
    pub max_backoff: Duration,
}

impl PollSchedule {
    /// The wait before the next poll after `failures` consecutive failures; `random` in `[0, 1)`
    /// picks the jitter.
    pub fn delay(&self, failures: u32, random: f64) -> Duration {
        let base = if failures == 0 {
            self.interval
        } else {
            let factor = 2u32.saturating_pow(failures.min(16));
            self.interval
                .saturating_mul(factor)
                .min(self.max_backoff.max(self.interval))
        };
        base + self.jitter.mul_f64(random.clamp(0.0, 1.0))
    }

    /// [`PollSchedule::delay`] with a fresh random jitter.
    pub fn next_delay(&self, failures: u32) -> Duration {
        self.delay(failures, fastrand::f64())
    }

    /// The longest a healthy poll waits: how soon after a publish every instance has looked.
    pub fn worst_case(&self) -> Duration {
        self.interval + self.jitter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> PollSchedule {
        PollSchedule {
            interval: Duration::from_secs(10),
            jitter: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
        }
    }

    #[test]
    fn healthy_polls_wait_the_interval_plus_jitter() {
        let s = schedule();
        assert_eq!(s.delay(0, 0.0), Duration::from_secs(10));
        assert_eq!(s.delay(0, 0.5), Duration::from_secs(11));
        assert!(s.next_delay(0) <= s.worst_case());
        assert!(s.next_delay(0) >= s.interval);
    }

    #[test]
    fn failures_double_the_wait_up_to_the_cap() {
        let s = schedule();
        let waits: Vec<u64> = (0..6).map(|f| s.delay(f, 0.0).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60, 60]);
        assert_eq!(s.delay(u32::MAX, 0.0), Duration::from_secs(60));
    }

    #[test]
    fn a_cap_below_the_interval_never_shortens_it() {
        let s = PollSchedule {
            max_backoff: Duration::from_secs(1),
            ..schedule()
        };
        assert_eq!(s.delay(3, 0.0), Duration::from_secs(10));
    }
}
