//! The local app behind a sidecar, as a one-endpoint service that `forward/` connects, pools and
//! times out as for any upstream (no retries or ejection: the app is the only instance behind
//! this sidecar). It is spoken to as the bundle in force says: HTTP/1.1, or h2c for a service
//! with `protocol h2c` or `h2` (the app listens on plaintext loopback). A reload that changes the
//! service's protocol builds the app's service again, on the first call after it, so the sidecar
//! never speaks HTTP/1.1 to an app the bundle now says speaks h2c, or the reverse. The per-try
//! timeout is read from the bundle per call (see the inbound chain).

use std::sync::Arc;

use arc_swap::ArcSwap;
use meshwork_bundle::{Balance, Protocol, Service, SourceLocation};

use crate::forward::pool::PoolSettings;
use crate::forward::{ServiceBuildError, ServiceState};
use crate::metrics::Metrics;

/// The timeout of calls to the app when the bundle does not know the service.
const DEFAULT_TIMEOUT_MS: u64 = 15_000;

/// The app, as the bundle in force says to speak to it.
#[derive(Debug)]
pub struct AppService {
    name: String,
    address: String,
    pools: PoolSettings,
    current: ArcSwap<ServiceState>,
}

impl AppService {
    /// The app `name` at `address`, spoken to with h2c when `h2`.
    pub fn build(
        name: &str,
        address: &str,
        h2: bool,
        timeout_ms: Option<u64>,
        pools: PoolSettings,
        metrics: &Metrics,
    ) -> Result<AppService, ServiceBuildError> {
        let first = build_state(name, address, h2, timeout_ms, pools, metrics)?;
        Ok(AppService {
            name: name.to_string(),
            address: address.to_string(),
            pools,
            current: ArcSwap::from_pointee(first),
        })
    }

    /// The service the app is reached with now.
    pub fn current(&self) -> Arc<ServiceState> {
        self.current.load_full()
    }

    /// The service to reach the app with under a bundle that says it speaks HTTP/2 (`h2`) or
    /// not: the current one, or one built for the new protocol (kept for the calls after).
    pub fn speaking(&self, h2: bool, metrics: &Metrics) -> Arc<ServiceState> {
        let current = self.current.load_full();
        if current.h2.is_some() == h2 {
            return current;
        }
        let timeout_ms = Some(current.timeout.as_millis() as u64);
        match build_state(
            &self.name,
            &self.address,
            h2,
            timeout_ms,
            self.pools,
            metrics,
        ) {
            Ok(state) => {
                let state = Arc::new(state);
                // Two calls may race here after a reload: the first one's service stays.
                let previous = self.current.compare_and_swap(&current, Arc::clone(&state));
                if Arc::ptr_eq(&previous, &current) {
                    tracing::info!(service = %self.name, app = %self.address, h2, "the app is spoken to as the bundle now says");
                    state
                } else {
                    Arc::clone(&previous)
                }
            }
            Err(error) => {
                tracing::warn!(service = %self.name, %error, "the app's service could not be rebuilt; keeping the old one");
                current
            }
        }
    }
}

fn build_state(
    name: &str,
    address: &str,
    h2: bool,
    timeout_ms: Option<u64>,
    pools: PoolSettings,
    metrics: &Metrics,
) -> Result<ServiceState, ServiceBuildError> {
    let app = Service {
        name: name.to_string(),
        endpoints: vec![address.to_string()],
        balance: Balance::RoundRobin,
        timeout_ms: timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
        retry: None,
        circuit_breaker: None,
        health_check: None,
        identity: None,
        protocol: match h2 {
            true => Protocol::H2c,
            false => Protocol::Http1,
        },
        source: SourceLocation {
            file: "--app".to_string(),
            line: 1,
            column: 1,
        },
    };
    ServiceState::build(
        &app,
        pools,
        |service, endpoint| metrics.upstream_latency(service, endpoint),
        |service| metrics.retry_budget_exhausted(service),
    )
}
