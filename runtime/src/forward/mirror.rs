//! Request mirroring (`mirror SERVICE [P%] [max_body SIZE] [queue N]`): a share of a route's
//! forwarded requests is copied to a second service, fire and forget, as Istio's `mirror` and
//! Envoy's request mirror policies do. The copy's answer is dropped unread; its latency or
//! failure never reaches the client, whose request is forwarded as if there were no mirror.
//!
//! Memory stays bounded whatever the mirror does: at most `queue` copies are in flight (a
//! semaphore; a copy beyond it is dropped and counted, never waited for), each copy is bounded
//! by the mirror service's timeout, and only bodies declared up to `max_body` bytes are copied.
//! The copy's `Host` gets a `-shadow` suffix (before any port) so the mirror can tell copies
//! from real traffic, as in Envoy.

use std::sync::Arc;

use bytes::Bytes;
use meshwork_bundle::RouteMirror;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::Semaphore;

use super::proxy::{forward, UpstreamRequest};
use super::request_body::RequestBody;
use super::service_state::ServiceState;
use super::time_budget::TimeBudget;
use crate::forward::http1::request_encoder::BodyFraming;

/// What happened to mirror copies, by result.
#[derive(Debug, Clone, Default)]
pub struct MirrorCounters {
    /// Copies the mirror answered (any status).
    pub sent: Counter,
    /// Copies that failed (connect, reset, timeout).
    pub failed: Counter,
    /// Copies dropped because `queue` copies were already in flight.
    pub dropped: Counter,
    /// Requests not copied because their body is larger than `max_body` or of unknown length.
    pub skipped_body: Counter,
    /// Copies sent and not yet answered or failed (at most `queue`).
    pub in_flight: Gauge,
}

/// A route's mirror, built at load.
#[derive(Debug)]
pub struct Mirror {
    service: Arc<ServiceState>,
    percent: u8,
    max_body: u64,
    in_flight: Arc<Semaphore>,
    counters: MirrorCounters,
}

/// A copy ready to leave: its head encoded (with the `-shadow` host) and its body.
#[derive(Debug)]
pub struct MirrorCopy {
    /// The request head as it will be written.
    pub head: Vec<u8>,
    /// The whole body (empty for none).
    pub body: Bytes,
    /// Whether the method is HEAD (no response body to expect).
    pub head_request: bool,
}

impl Mirror {
    /// The bundle's mirror, copying to `service`.
    pub fn new(mirror: &RouteMirror, service: Arc<ServiceState>, counters: MirrorCounters) -> Self {
        let queue = usize::try_from(mirror.queue)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Mirror {
            service,
            percent: mirror.percent,
            max_body: mirror.max_body_bytes,
            in_flight: Arc::new(Semaphore::new(queue)),
            counters,
        }
    }

    /// Whether this request is to be copied (drawn per request).
    pub fn picks(&self) -> bool {
        self.percent >= 100 || (self.percent > 0 && fastrand::u8(..100) < self.percent)
    }

    /// Whether a body of `declared` bytes (`None`: unknown, streamed) can be copied; counts the
    /// request as skipped when not.
    pub fn takes_body(&self, declared: Option<u64>) -> bool {
        let fits = declared.is_some_and(|length| length <= self.max_body);
        if !fits {
            self.counters.skipped_body.inc();
        }
        fits
    }

    /// The largest body copied.
    pub fn max_body(&self) -> u64 {
        self.max_body
    }

    /// Sends the copy on its own task, or drops (and counts) it when `queue` copies are already
    /// in flight. Never waits.
    pub fn send(&self, copy: MirrorCopy) {
        let Ok(permit) = Arc::clone(&self.in_flight).try_acquire_owned() else {
            self.counters.dropped.inc();
            return;
        };
        let service = Arc::clone(&self.service);
        let counters = self.counters.clone();
        counters.in_flight.inc();
        tokio::spawn(async move {
            let _permit = permit;
            let length = copy.body.len() as u64;
            let request = UpstreamRequest {
                head: copy.head,
                body: if length == 0 {
                    RequestBody::empty()
                } else {
                    RequestBody::full(copy.body)
                },
                framing: if length == 0 {
                    BodyFraming::Empty
                } else {
                    BodyFraming::Sized(length)
                },
                // A copy is never repeated after it reached the mirror.
                idempotent: false,
                head_request: copy.head_request,
            };
            let budget = TimeBudget {
                per_try: service.timeout,
                overall: Some(service.timeout),
            };
            match forward(&service, budget, None, request).await {
                // The answer is dropped unread (its connection with it).
                Ok(_answered) => counters.sent.inc(),
                Err(_) => counters.failed.inc(),
            };
            counters.in_flight.dec();
        });
    }
}

/// `host-shadow`, keeping a port (`picard:8080` → `picard-shadow:8080`).
pub fn shadow_host(authority: &str) -> String {
    let (host, port) = match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => authority.split_at(colon),
        _ => (authority, ""),
    };
    format!("{host}-shadow{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shadow_suffix_goes_before_the_port() {
        assert_eq!(shadow_host("picard"), "picard-shadow");
        assert_eq!(shadow_host("api.test:8080"), "api.test-shadow:8080");
        assert_eq!(shadow_host("[::1]:8080"), "[::1]-shadow:8080");
        assert_eq!(shadow_host("[::1]"), "[::1]-shadow");
    }
}
