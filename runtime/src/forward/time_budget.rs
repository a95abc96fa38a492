//! How long forwarding one request may take, with Envoy's semantics: the service's `timeout`
//! bounds each try, the route's `timeout` bounds the whole request — every try and every backoff
//! between them. A try starts with what is left of the route's deadline when that is less than the
//! service's timeout, and a retry whose backoff would end at or after the deadline is not made.

use std::time::Duration;

use tokio::time::Instant;

/// The time limits of one forwarded request, fixed when forwarding starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBudget {
    /// The longest one try may wait for the response head (the service's `timeout`).
    pub per_try: Duration,
    /// The route's `timeout` over every try, when the route has one.
    pub overall: Option<Duration>,
}

/// A [`TimeBudget`] running from a start instant.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    per_try: Duration,
    overall: Option<(Duration, Instant)>,
}

/// What limits the try that is about to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryLimit {
    /// The service's per-try timeout.
    PerTry(Duration),
    /// What is left of the route's timeout (shorter than a whole try).
    Route {
        /// The route's timeout.
        timeout: Duration,
        /// When it runs out.
        at: Instant,
    },
}

impl TimeBudget {
    /// Starts the clock.
    pub fn start(self, now: Instant) -> Deadline {
        Deadline {
            per_try: self.per_try,
            overall: self.overall.map(|timeout| (timeout, now + timeout)),
        }
    }
}

impl Deadline {
    /// When a try starting at `now` must have its response head, and what sets that limit.
    pub fn try_limit(&self, now: Instant) -> (Instant, TryLimit) {
        let per_try_end = now + self.per_try;
        match self.overall {
            Some((timeout, at)) if at < per_try_end => (at, TryLimit::Route { timeout, at }),
            _ => (per_try_end, TryLimit::PerTry(self.per_try)),
        }
    }

    /// Whether a retry after waiting `backoff` from `now` starts before the route's deadline.
    pub fn retry_fits(&self, now: Instant, backoff: Duration) -> bool {
        self.overall.is_none_or(|(_, at)| now + backoff < at)
    }

    /// The route's timeout, when it has passed at `now`.
    pub fn route_expired(&self, now: Instant) -> Option<Duration> {
        self.overall
            .filter(|(_, at)| now >= *at)
            .map(|(timeout, _)| timeout)
    }
}

impl TryLimit {
    /// A phrase for the 504's reason: "400ms" or "the route's timeout of 3000ms".
    pub fn describe(&self) -> String {
        match self {
            TryLimit::PerTry(d) => format!("{}ms", d.as_millis()),
            TryLimit::Route { timeout, .. } => {
                format!("the route's timeout of {}ms", timeout.as_millis())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn without_a_route_timeout_every_try_gets_the_whole_service_timeout() {
        let now = Instant::now();
        let deadline = TimeBudget {
            per_try: MS(400),
            overall: None,
        }
        .start(now);
        let later = now + MS(10_000);
        assert_eq!(
            deadline.try_limit(later),
            (later + MS(400), TryLimit::PerTry(MS(400)))
        );
        assert!(deadline.retry_fits(later, MS(1_000_000)));
        assert_eq!(deadline.route_expired(later), None);
    }

    #[test]
    fn the_route_timeout_cuts_the_last_try_and_refuses_late_retries() {
        let now = Instant::now();
        let deadline = TimeBudget {
            per_try: MS(400),
            overall: Some(MS(1_000)),
        }
        .start(now);
        assert_eq!(deadline.try_limit(now).1, TryLimit::PerTry(MS(400)));
        let third = now + MS(850);
        let (end, limit) = deadline.try_limit(third);
        assert_eq!(end, now + MS(1_000));
        assert!(matches!(limit, TryLimit::Route { timeout, .. } if timeout == MS(1_000)));
        assert!(deadline.retry_fits(now + MS(900), MS(50)));
        assert!(!deadline.retry_fits(now + MS(900), MS(100)));
        assert_eq!(deadline.route_expired(now + MS(999)), None);
        assert_eq!(deadline.route_expired(now + MS(1_000)), Some(MS(1_000)));
    }

    #[test]
    fn a_route_timeout_shorter_than_a_try_bounds_the_first_try() {
        let now = Instant::now();
        let deadline = TimeBudget {
            per_try: MS(15_000),
            overall: Some(MS(3_000)),
        }
        .start(now);
        assert_eq!(deadline.try_limit(now).0, now + MS(3_000));
        assert_eq!(
            deadline.try_limit(now).1.describe(),
            "the route's timeout of 3000ms"
        );
    }
}
