//! A service as the runtime holds it: resolved endpoints and the policies that pick among them.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use meshwork_bundle::{Balance, HealthCheck, Protocol, Service};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

use super::balance::Balancer;
use super::circuit_breaker::{ejection_allowed, BreakerConfig};
use super::clock::now_ms;
use super::ejection_counters::EjectionCounters;
use super::endpoint::Endpoint;
use super::h2::connection::public_tls_config;
use super::h2::{H2Connections, H2Transport};
use super::hash_key::{HashKey, HashKeyError};
use super::outlier_sweep::sweep_when_due;
use super::pool::PoolSettings;
use super::proxy::ForwardFailureKind;
use super::retry_budget::RetryBudget;
use super::retry_policy::RetryPolicy;
use super::upstream_tls::UpstreamTls;
use crate::admit::cel::CelInput;

/// Why a service cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ServiceBuildError {
    /// An endpoint that does not resolve to an address.
    #[error("service `{service}`: endpoint `{endpoint}` does not resolve: {message}")]
    Unresolvable {
        /// The service.
        service: String,
        /// The endpoint as written.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// A hash-key expression that does not parse.
    #[error("service `{service}`: {source}")]
    HashKey {
        /// The service.
        service: String,
        /// The parse error.
        source: HashKeyError,
    },
}

/// A service ready to take requests.
#[derive(Debug)]
pub struct ServiceState {
    /// The service's name.
    pub name: Arc<str>,
    /// Its endpoints, in bundle order.
    pub endpoints: Vec<Arc<Endpoint>>,
    /// How an endpoint is chosen.
    pub balancer: Balancer,
    /// The per-attempt timeout.
    pub timeout: Duration,
    /// Retries, if any.
    pub retry: Option<RetryPolicy>,
    /// The retry budget across requests, if the retry line has one.
    pub retry_budget: Option<RetryBudget>,
    /// Outlier ejection, if any.
    pub breaker: Option<BreakerConfig>,
    /// At most this many requests in flight to the service (`circuit_breaker { max_requests
    /// N }`); more are answered 503 at once.
    pub max_requests: Option<u32>,
    /// Requests refused at `max_requests`.
    max_requests_refused: Counter,
    /// Active health checking, if any.
    pub health_check: Option<HealthCheck>,
    /// Mutual TLS to its endpoints (a mesh workload called with this process's certificate).
    pub tls: Option<UpstreamTls>,
    /// Whether it speaks plain TCP (`protocol tcp`): only a sidecar's tcp listeners reach it
    /// ([`crate::mesh::tcp_outbound`]), never a request.
    pub tcp: bool,
    /// Whether the service itself speaks HTTP/2 (`protocol h2c|h2`): how its sidecar speaks to
    /// the app.
    pub speaks_h2: bool,
    /// The HTTP/2 connections this process calls the service on: a service that speaks HTTP/2,
    /// or a mesh service whose sidecars are spoken to with HTTP/2 (`between_sidecars h2`);
    /// `None` for HTTP/1.1, which the pool of [`super::endpoint::Endpoint`] serves.
    pub h2: Option<H2Connections>,
    /// When the breaker's interval detectors judge the endpoints next (`clock::now_ms`; 0 before
    /// the first request).
    outlier_sweep_at: AtomicU64,
    /// Ejections by detector (`meshd_outlier_ejections_total`).
    ejections: EjectionCounters,
}

/// Why [`ServiceState::pick`] chose no endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPick {
    /// The service has its `max_requests` in flight.
    AtMaxRequests(u32),
    /// Every endpoint is unhealthy or ejected.
    NoEndpoint,
}

impl NoPick {
    /// The forwarding failure it answers, and the failure's detail.
    pub fn failure(self) -> (ForwardFailureKind, String) {
        match self {
            NoPick::AtMaxRequests(max) => (ForwardFailureKind::Overflow, max.to_string()),
            NoPick::NoEndpoint => (ForwardFailureKind::NoEndpoint, String::new()),
        }
    }
}

impl ServiceState {
    /// Builds a service: resolves every endpoint (a host name resolves once, here) and compiles
    /// its balancing. `latency` gives each endpoint's latency histogram, `budget_exhausted` the
    /// service's counter of retries its budget refused.
    pub fn build(
        service: &Service,
        pools: PoolSettings,
        latency: impl Fn(&str, &str) -> Histogram,
        budget_exhausted: impl Fn(&str) -> Counter,
    ) -> Result<ServiceState, ServiceBuildError> {
        Self::build_with_tls(service, pools, latency, budget_exhausted, None, None)
    }

    /// [`ServiceState::build`] for a service called over mutual TLS with `tls`; `sidecar_h2`,
    /// for an HTTP/1.1 service, is the TLS (offering `h2`) its sidecars are called with over
    /// HTTP/2 instead (`between_sidecars h2`); `tls` then still opens WebSocket tunnels.
    pub fn build_with_tls(
        service: &Service,
        pools: PoolSettings,
        latency: impl Fn(&str, &str) -> Histogram,
        budget_exhausted: impl Fn(&str) -> Counter,
        tls: Option<UpstreamTls>,
        sidecar_h2: Option<UpstreamTls>,
    ) -> Result<ServiceState, ServiceBuildError> {
        let mut endpoints = Vec::with_capacity(service.endpoints.len());
        for address in &service.endpoints {
            let socket_addr =
                resolve(address).map_err(|message| ServiceBuildError::Unresolvable {
                    service: service.name.clone(),
                    endpoint: address.clone(),
                    message,
                })?;
            endpoints.push(Arc::new(Endpoint::new(
                address,
                socket_addr,
                pools,
                latency(&service.name, address),
            )));
        }
        let balancer = match &service.balance {
            Balance::RoundRobin => Balancer::RoundRobin(AtomicUsize::new(0)),
            Balance::Random => Balancer::Random,
            Balance::LeastRequest => Balancer::LeastRequest,
            Balance::Hash { cel } => Balancer::Hash(HashKey::compile(cel).map_err(|source| {
                ServiceBuildError::HashKey {
                    service: service.name.clone(),
                    source,
                }
            })?),
        };
        let transport = match (&tls, service.protocol, sidecar_h2) {
            (Some(tls), Protocol::H2c | Protocol::H2, _) => Some(H2Transport::Mesh(tls.clone())),
            (None, Protocol::H2, _) => Some(H2Transport::PublicTls(public_tls_config())),
            (None, Protocol::H2c, _) => Some(H2Transport::Plain),
            (_, Protocol::Http1, Some(upgraded)) => Some(H2Transport::Mesh(upgraded)),
            _ => None,
        };
        let h2 = transport.map(|transport| H2Connections::new(transport, endpoints.len()));
        Ok(ServiceState {
            name: service.name.as_str().into(),
            endpoints,
            balancer,
            timeout: Duration::from_millis(service.timeout_ms.max(1)),
            retry: service.retry.as_ref().map(RetryPolicy::new),
            retry_budget: service
                .retry
                .as_ref()
                .and_then(|r| r.budget.as_ref())
                .map(|b| RetryBudget::new(b, budget_exhausted(&service.name))),
            breaker: service.circuit_breaker.as_ref().map(BreakerConfig::new),
            max_requests: service
                .circuit_breaker
                .as_ref()
                .and_then(|b| b.max_requests),
            max_requests_refused: Counter::default(),
            health_check: service.health_check.clone(),
            tls,
            tcp: service.protocol.is_tcp(),
            speaks_h2: service.protocol.is_http2(),
            h2,
            outlier_sweep_at: AtomicU64::new(0),
            ejections: EjectionCounters::default(),
        })
    }

    /// Counts this service's ejections in `counters` (the process registry's).
    pub fn with_ejection_counters(mut self, counters: EjectionCounters) -> Self {
        self.ejections = counters;
        self
    }

    /// The service with `counter` counting the requests refused at its `max_requests`.
    pub fn with_max_requests_counter(mut self, counter: Counter) -> Self {
        self.max_requests_refused = counter;
        self
    }

    /// The hashed balancing key of a request, when the service balances by hash.
    pub fn hash_of(&self, input: CelInput<'_>) -> Option<u64> {
        self.balancer.hash_key().and_then(|key| key.hash(input))
    }

    /// Chooses an endpoint for the next try: none when the service has its `max_requests` in
    /// flight already (the refusal counted; Envoy's threshold, as approximate as Envoy's:
    /// requests that check at the same instant may all pass), else an available one (healthy,
    /// not ejected), avoiding `avoid` when possible.
    pub fn pick(&self, key: Option<u64>, avoid: Option<usize>) -> Result<usize, NoPick> {
        if let Some(max) = self.max_requests {
            let in_flight: u64 = self
                .endpoints
                .iter()
                .map(|e| u64::from(e.in_flight()))
                .sum();
            if in_flight >= u64::from(max) {
                self.max_requests_refused.inc();
                return Err(NoPick::AtMaxRequests(max));
            }
        }
        let picked = if self.breaker.is_none() && self.health_check.is_none() {
            self.balancer.pick(&self.endpoints, |_| true, key, avoid)
        } else {
            let now = now_ms();
            self.balancer.pick(
                &self.endpoints,
                |e| e.is_healthy() && !e.outlier.is_ejected_at(now),
                key,
                avoid,
            )
        };
        picked.ok_or(NoPick::NoEndpoint)
    }

    /// Records an attempt's outcome for outlier detection; `latency` is its time to the response
    /// head when the endpoint answered.
    pub fn record(&self, endpoint: &Endpoint, failed: bool, latency: Option<Duration>) {
        let Some(config) = &self.breaker else {
            return;
        };
        if config.interval.is_some() {
            endpoint.outlier.count(failed, latency);
            sweep_when_due(
                &self.name,
                &self.ejections,
                config,
                &self.endpoints,
                &self.outlier_sweep_at,
                now_ms(),
            );
        }
        if !failed {
            endpoint.outlier.record_success();
            return;
        }
        let ejected = endpoint.outlier.record_failure(config, || {
            let now = now_ms();
            let out = self
                .endpoints
                .iter()
                .filter(|e| e.outlier.is_ejected_at(now))
                .count();
            ejection_allowed(config, out, self.endpoints.len())
        });
        if ejected {
            self.ejections.count("consecutive_errors");
            tracing::warn!(
                service = %self.name,
                endpoint = %endpoint.address,
                eject_ms = config.eject.as_millis() as u64,
                "endpoint ejected after consecutive errors"
            );
        }
    }
}

fn resolve(address: &str) -> Result<SocketAddr, String> {
    if let Ok(parsed) = address.parse::<SocketAddr>() {
        return Ok(parsed);
    }
    address
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| "no address".to_string())
}
