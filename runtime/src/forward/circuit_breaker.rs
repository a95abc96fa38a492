//! Passive outlier detection: an endpoint that fails `consecutive_errors` times in a row (5xx,
//! connect failure, reset or timeout) is ejected for `eject`, unless that would put more than
//! `max_ejected_percent` of the service's endpoints out at once (rounded down, so a service with
//! one endpoint and 50% never ejects it). With `failure_percentage` or `success_rate`, the
//! endpoints are also judged every `interval` on the requests of the interval (see
//! [`crate::forward::outlier_sweep`]), and each ejection lasts `eject` times the endpoint's
//! ejections so far (capped at five minutes or `eject`), as in Envoy.

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
    /// `(percent, min_requests)` of the failure-percentage detector.
    pub failure_percentage: Option<(u8, u64)>,
    /// `min_requests` of the success-rate detector.
    pub success_rate: Option<u64>,
    /// The latency detector.
    pub latency: Option<LatencyConfig>,
    /// How often the interval detectors judge; `None` without them.
    pub interval: Option<Duration>,
}

/// The latency detector's settings (`latency FACTORx min_requests N min_latency D`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyConfig {
    /// An endpoint slower than this percentage of its peers' median is an outlier (300: 3x).
    pub factor_percent: u32,
    /// Answered requests it and a peer need in the interval.
    pub min_requests: u64,
    /// A mean below this, in microseconds, never ejects.
    pub min_latency_us: u64,
}

/// The longest ejection that grows on repeat (Envoy's `max_ejection_time` default).
pub const MAX_GROWN_EJECTION: Duration = Duration::from_secs(300);

impl BreakerConfig {
    /// Takes the bundle's settings.
    pub fn new(config: &CircuitBreaker) -> Self {
        BreakerConfig {
            consecutive_errors: u32::try_from(config.consecutive_errors.max(1)).unwrap_or(u32::MAX),
            eject: Duration::from_millis(config.eject_ms),
            max_ejected_percent: config.max_ejected_percent.min(100),
            failure_percentage: config
                .failure_percentage
                .as_ref()
                .map(|f| (f.percent.min(100), f.min_requests)),
            success_rate: config.success_rate.as_ref().map(|s| s.min_requests),
            latency: config.latency.as_ref().map(|l| LatencyConfig {
                factor_percent: l.factor_percent,
                min_requests: l.min_requests.max(1),
                min_latency_us: l.min_latency_ms.saturating_mul(1000),
            }),
            interval: config
                .interval_ms
                .filter(|_| {
                    config.failure_percentage.is_some()
                        || config.success_rate.is_some()
                        || config.latency.is_some()
                })
                .map(|ms| Duration::from_millis(ms.max(1))),
        }
    }

    /// How long the `times`-th ejection of an endpoint lasts: `eject` at first, growing with
    /// repeats when the interval detectors run (they also let the count fall back).
    pub fn ejection_time(&self, times: u32) -> Duration {
        if self.interval.is_none() {
            return self.eject;
        }
        self.eject
            .saturating_mul(times.max(1))
            .min(MAX_GROWN_EJECTION.max(self.eject))
    }
}

/// One endpoint's failure streak and ejection deadline.
#[derive(Debug, Default)]
pub struct OutlierState {
    consecutive: AtomicU32,
    /// `clock::now_ms` value until which the endpoint is out; 0 when it is in.
    ejected_until: AtomicU64,
    /// Requests and failures of the current interval (interval detectors only).
    interval_requests: AtomicU64,
    interval_failures: AtomicU64,
    /// Answered requests of the interval and their summed latency to the response head.
    interval_answered: AtomicU64,
    interval_latency_us: AtomicU64,
    /// Ejections so far, lowered by one for each interval the endpoint stays in.
    ejections: AtomicU32,
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
        self.eject(config, now_ms());
        self.consecutive.store(0, Ordering::Relaxed);
        true
    }

    /// Ejects the endpoint at `now` for its next ejection's time.
    pub fn eject(&self, config: &BreakerConfig, now: u64) {
        let times = self
            .ejections
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let time = config.ejection_time(times);
        let until = now.saturating_add(u64::try_from(time.as_millis()).unwrap_or(u64::MAX));
        self.ejected_until.store(until, Ordering::Relaxed);
    }

    /// Counts one request of the interval; `latency` is its time to the response head when the
    /// endpoint answered.
    pub fn count(&self, failed: bool, latency: Option<Duration>) {
        self.interval_requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.interval_failures.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(latency) = latency {
            let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            self.interval_answered.fetch_add(1, Ordering::Relaxed);
            self.interval_latency_us.fetch_add(us, Ordering::Relaxed);
        }
    }

    /// Takes the interval's counts and starts the next interval.
    pub fn take_interval(&self) -> IntervalCounts {
        let requests = self.interval_requests.swap(0, Ordering::Relaxed);
        let failures = self.interval_failures.swap(0, Ordering::Relaxed);
        IntervalCounts {
            requests,
            failures: failures.min(requests),
            answered: self.interval_answered.swap(0, Ordering::Relaxed),
            latency_us: self.interval_latency_us.swap(0, Ordering::Relaxed),
        }
    }

    /// An interval passed with the endpoint in: its ejection count falls by one.
    pub fn stayed_in(&self) {
        let _ = self
            .ejections
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// One endpoint's requests over an interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntervalCounts {
    /// Requests sent.
    pub requests: u64,
    /// Of which failed.
    pub failures: u64,
    /// Requests the endpoint answered (a response head arrived).
    pub answered: u64,
    /// Their summed time to the response head, in microseconds.
    pub latency_us: u64,
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
            failure_percentage: None,
            success_rate: None,
            latency: None,
            interval: None,
        }
    }

    #[test]
    fn ejections_grow_on_repeat_only_with_interval_detectors() {
        let mut c = config(1);
        assert_eq!(c.ejection_time(3), Duration::from_secs(30));
        c.interval = Some(Duration::from_secs(10));
        assert_eq!(c.ejection_time(1), Duration::from_secs(30));
        assert_eq!(c.ejection_time(3), Duration::from_secs(90));
        assert_eq!(c.ejection_time(100), MAX_GROWN_EJECTION);
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
