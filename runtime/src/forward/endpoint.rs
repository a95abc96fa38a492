//! One upstream endpoint: its address, connection pool, requests in flight, breaker state, health.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use prometheus_client::metrics::histogram::Histogram;

use super::circuit_breaker::OutlierState;
use super::http1::UpstreamConn;
use super::pool::{ConnectionPool, PoolSettings};

/// An upstream `host:port` of a service.
#[derive(Debug)]
pub struct Endpoint {
    /// The address as written in the bundle.
    pub address: Arc<str>,
    /// The address resolved at load.
    pub socket_addr: SocketAddr,
    /// Idle keep-alive connections.
    pub pool: ConnectionPool,
    /// Passive outlier detection.
    pub outlier: OutlierState,
    /// Time from sending a request to the response head, in seconds.
    pub latency: Histogram,
    in_flight: AtomicU32,
    healthy: AtomicBool,
}

impl Endpoint {
    /// A healthy endpoint with an empty pool laid out as `pools`.
    pub fn new(
        address: &str,
        socket_addr: SocketAddr,
        pools: PoolSettings,
        latency: Histogram,
    ) -> Self {
        Endpoint {
            address: address.into(),
            socket_addr,
            pool: ConnectionPool::new(pools),
            outlier: OutlierState::default(),
            latency,
            in_flight: AtomicU32::new(0),
            healthy: AtomicBool::new(true),
        }
    }

    /// Requests sent and not yet answered to the end.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Whether active health checks (when any) last found it healthy.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Records a health check verdict.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    /// Starts a request: counts it in flight until the returned lease is dropped.
    pub fn lease(self: &Arc<Self>) -> Lease {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Lease {
            endpoint: Arc::clone(self),
        }
    }
}

/// One request's hold on an endpoint: keeps it counted in flight until the response has been
/// read to the end (or abandoned).
#[derive(Debug)]
pub struct Lease {
    endpoint: Arc<Endpoint>,
}

impl Lease {
    /// The endpoint.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// The response was read to the end on a connection that stays open: it serves the next request.
    pub fn finish(self, conn: UpstreamConn) {
        self.endpoint.pool.give_back(conn);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
