//! When a failed attempt is tried again, and how long to wait first: exponential backoff from the
//! minimum, doubled per retry up to the maximum, with "equal jitter" (a uniform wait between half
//! the step and the whole step) so synchronized clients spread out.

use std::time::Duration;

use http::Method;
use meshwork_bundle::{Retry, RetryCondition, RetryOn};
use smallvec::SmallVec;

/// A transport-level failure of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No connection could be made.
    ConnectFailure,
    /// The connection broke before a response head arrived.
    Reset,
    /// No response head within the timeout.
    Timeout,
}

/// A service's retry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub attempts: u32,
    on_connect_failure: bool,
    on_reset: bool,
    on_timeout: bool,
    statuses: SmallVec<[u16; 4]>,
    grpc_codes: SmallVec<[u8; 4]>,
    backoff_min: Duration,
    backoff_max: Duration,
}

impl RetryPolicy {
    /// Takes the bundle's settings.
    pub fn new(retry: &Retry) -> Self {
        let has = |c: RetryCondition| retry.on.contains(&RetryOn::Condition(c));
        RetryPolicy {
            attempts: u32::try_from(retry.attempts).unwrap_or(u32::MAX),
            on_connect_failure: has(RetryCondition::ConnectFailure),
            on_reset: has(RetryCondition::Reset),
            on_timeout: has(RetryCondition::Timeout),
            statuses: retry
                .on
                .iter()
                .filter_map(|on| match on {
                    RetryOn::Status(status) => Some(*status),
                    RetryOn::Condition(_) | RetryOn::Grpc(_) => None,
                })
                .collect(),
            grpc_codes: retry
                .on
                .iter()
                .filter_map(|on| match on {
                    RetryOn::Grpc(grpc) => Some(grpc.grpc),
                    _ => None,
                })
                .collect(),
            backoff_min: Duration::from_millis(retry.backoff_min_ms),
            backoff_max: Duration::from_millis(retry.backoff_max_ms.max(retry.backoff_min_ms)),
        }
    }

    /// Whether a transport failure is retried.
    pub fn retries_failure(&self, kind: FailureKind) -> bool {
        match kind {
            FailureKind::ConnectFailure => self.on_connect_failure,
            FailureKind::Reset => self.on_reset,
            FailureKind::Timeout => self.on_timeout,
        }
    }

    /// Whether a response status is retried.
    pub fn retries_status(&self, status: u16) -> bool {
        self.statuses.contains(&status)
    }

    /// Whether a gRPC status (of a trailers-only answer) is retried.
    pub fn retries_grpc(&self, code: u8) -> bool {
        self.grpc_codes.contains(&code)
    }

    /// Whether any status is retried (so responses must be inspected).
    pub fn retries_statuses(&self) -> bool {
        !self.statuses.is_empty()
    }

    /// The wait before retry number `retry` (0 for the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let step = self
            .backoff_min
            .saturating_mul(1u32 << retry.min(20))
            .min(self.backoff_max);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Methods a request may be repeated with (RFC 9110 §9.2.2).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(on: Vec<RetryOn>) -> RetryPolicy {
        RetryPolicy::new(&Retry {
            attempts: 3,
            on,
            backoff_min_ms: 20,
            backoff_max_ms: 100,
            budget: None,
        })
    }

    #[test]
    fn listed_conditions_and_statuses_are_retried_and_others_not() {
        let p = policy(vec![
            RetryOn::Condition(RetryCondition::ConnectFailure),
            RetryOn::Status(503),
        ]);
        assert!(p.retries_failure(FailureKind::ConnectFailure));
        assert!(!p.retries_failure(FailureKind::Reset));
        assert!(!p.retries_failure(FailureKind::Timeout));
        assert!(p.retries_status(503));
        assert!(!p.retries_status(502));
    }

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_maximum() {
        let p = policy(Vec::new());
        for _ in 0..100 {
            let first = p.backoff(0);
            assert!(first >= Duration::from_millis(10) && first <= Duration::from_millis(20));
            let second = p.backoff(1);
            assert!(second >= Duration::from_millis(20) && second <= Duration::from_millis(40));
            let late = p.backoff(30);
            assert!(late >= Duration::from_millis(50) && late <= Duration::from_millis(100));
        }
    }

    #[test]
    fn only_idempotent_methods_are_repeatable() {
        assert!(is_idempotent(&Method::GET));
        assert!(is_idempotent(&Method::PUT));
        assert!(!is_idempotent(&Method::POST));
        assert!(!is_idempotent(&Method::PATCH));
    }
}
