//! Passive outlier detection: an endpoint that fails `consecutive_errors` times in a row (5xx,
//! connect failure, reset or timeout) is ejected for `eject`, unless that would put more than
//! `max_ejected_percent` of the service's endpoints out at once (rounded down, so a service with
//! one endpoint and 50% never ejects it).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use meshwork_bundle::CircuitBreaker;

use super::clock::now_ms;

/// A service's breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Failures in a row that eject.
    pub consecutive_errors: u32,
    /// How long an ejection lasts.
    pub eject: Duration,
    /// At most this share of endpoints ejected at once.
    pub max_ejected_percent: u8,
}

impl BreakerConfig {
    /// Takes the bundle's settings.
    pub fn new(config: &CircuitBreaker) -> Self {
        BreakerConfig {
            consecutive_errors: u32::try_from(config.consecutive_errors.max(1)).unwrap_or(u32::MAX),
            eject: Duration::from_millis(config.eject_ms),
            max_ejected_percent: config.max_ejected_percent.min(100),
        }
    }
}

/// One endpoint's failure streak and ejection deadline.
#[derive(Debug, Default)]
pub struct OutlierState {
    consecutive: AtomicU32,
    /// `clock::now_ms` value until which the endpoint is out; 0 when it is in.
    ejected_until: AtomicU64,
}

impl OutlierState {
    /// Whether the endpoint is ejected at `now` (milliseconds on the coarse clock).
    pub fn is_ejected_at(&self, now: u64) -> bool {
        now < self.ejected_until.load(Ordering::Relaxed)
    }

    /// A success ends the streak.
    pub fn record_success(&self) {
        if self.consecutive.load(Ordering::Relaxed) != 0 {
            self.consecutive.store(0, Ordering::Relaxed);
        }
    }

    /// Counts a failure; when the streak reaches the threshold and `may_eject` allows it
    /// (given the number of endpoints already out), ejects. Returns whether it ejected.
    pub fn record_failure(&self, config: &BreakerConfig, may_eject: impl FnOnce() -> bool) -> bool {
        let streak = self.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
        if streak < config.consecutive_errors || !may_eject() {
            return false;
        }
        let until =
            now_ms().saturating_add(u64::try_from(config.eject.as_millis()).unwrap_or(u64::MAX));
        self.ejected_until.store(until, Ordering::Relaxed);
        self.consecutive.store(0, Ordering::Relaxed);
        true
    }
}

/// Whether one more of `total` endpoints may be ejected when `ejected` already are.
pub fn ejection_allowed(config: &BreakerConfig, ejected: usize, total: usize) -> bool {
    (ejected + 1) * 100 <= usize::from(config.max_ejected_percent) * total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(errors: u32) -> BreakerConfig {
        BreakerConfig {
            consecutive_errors: errors,
            eject: Duration::from_secs(30),
            max_ejected_percent: 50,
        }
    }

    #[test]
    fn the_nth_consecutive_failure_ejects() {
        let state = OutlierState::default();
        let c = config(3);
        assert!(!state.record_failure(&c, || true));
        assert!(!state.record_failure(&c, || true));
        assert!(state.record_failure(&c, || true));
        assert!(state.is_ejected_at(now_ms()));
    }

    #[test]
    fn a_success_resets_the_streak() {
        let state = OutlierState::default();
        let c = config(2);
        state.record_failure(&c, || true);
        state.record_success();
        assert!(!state.record_failure(&c, || true));
        assert!(!state.is_ejected_at(now_ms()));
    }

    #[test]
    fn the_ejection_ends_after_its_duration() {
        let state = OutlierState::default();
        assert!(state.record_failure(&config(1), || true));
        assert!(!state.is_ejected_at(now_ms() + 30_001));
    }

    #[test]
    fn at_most_max_ejected_percent_are_out() {
        let c = config(1);
        assert!(ejection_allowed(&c, 0, 2));
        assert!(!ejection_allowed(&c, 1, 2));
        assert!(!ejection_allowed(&c, 0, 1));
        assert!(ejection_allowed(&c, 1, 4));
    }
}
