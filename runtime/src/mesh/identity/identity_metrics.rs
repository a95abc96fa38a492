//! The mesh identity's Prometheus families, registered into the process registry
//! (`crate::metrics::Metrics`):
//!
//! - `meshd_cert_expiry_seconds{identity}`: seconds until the workload certificate in force
//!   expires (negative once it has), computed at scrape time;
//! - `meshd_tls_handshake_failures_total{direction,reason}`: failed mesh handshakes, `direction`
//!   `inbound` (a caller) or `outbound` (a server called), `reason` one of
//!   [`HandshakeFailure::ALL`]; every pair starts at 0 so alerts see the series from the start;
//! - `meshd_cert_rotations_total{result}`: certificate files re-read after a change, `ok` or
//!   `refused` (the old certificate stays in force).

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::handshake_failure::HandshakeFailure;
use super::identity_store::IdentityStore;

type FailureLabels = [(&'static str, &'static str); 2];
type ResultLabels = [(&'static str, &'static str); 1];

/// Which side of a connection a handshake failure was seen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// meshd accepted the connection (a caller's handshake).
    Inbound,
    /// meshd opened the connection (to a server it calls).
    Outbound,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// Handles on the identity families.
#[derive(Debug, Clone)]
pub struct IdentityMetrics {
    handshake_failures: Family<FailureLabels, Counter>,
    rotations: Family<ResultLabels, Counter>,
    expiry: Arc<CertExpiryCollector>,
}

impl Default for IdentityMetrics {
    fn default() -> Self {
        IdentityMetrics::new()
    }
}

impl IdentityMetrics {
    /// Families not yet registered anywhere (tests read them directly).
    pub fn new() -> IdentityMetrics {
        let handshake_failures = Family::<FailureLabels, Counter>::default();
        for direction in [Direction::Inbound, Direction::Outbound] {
            for reason in HandshakeFailure::ALL {
                let _ = handshake_failures.get_or_create(&labels(direction, reason));
            }
        }
        let rotations = Family::<ResultLabels, Counter>::default();
        for result in ["ok", "refused"] {
            let _ = rotations.get_or_create(&[("result", result)]);
        }
        IdentityMetrics {
            handshake_failures,
            rotations,
            expiry: Arc::new(CertExpiryCollector::default()),
        }
    }

    /// Adds the families to a registry (the admin listener's, through `Metrics::register`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "meshd_tls_handshake_failures",
            "Failed mesh TLS handshakes, by direction and reason",
            self.handshake_failures.clone(),
        );
        registry.register(
            "meshd_cert_rotations",
            "Workload certificate re-reads after a file change, by result (ok or refused)",
            self.rotations.clone(),
        );
        registry.register_collector(Box::new(Arc::clone(&self.expiry)));
    }

    /// Exports the expiry of `store`'s certificate.
    pub fn watch_expiry(&self, store: &IdentityStore) {
        let mut stores = self.expiry.stores.lock().unwrap_or_else(|p| p.into_inner());
        stores.push(store.clone());
    }

    /// Counts a failed handshake.
    pub fn count_handshake_failure(&self, direction: Direction, reason: HandshakeFailure) {
        self.handshake_failures
            .get_or_create(&labels(direction, reason))
            .inc();
    }

    /// The count of failed handshakes for one direction and reason.
    pub fn handshake_failures(&self, direction: Direction, reason: HandshakeFailure) -> u64 {
        self.handshake_failures
            .get_or_create(&labels(direction, reason))
            .get()
    }

    /// Counts a certificate re-read.
    pub fn count_rotation(&self, ok: bool) {
        let result = if ok { "ok" } else { "refused" };
        self.rotations.get_or_create(&[("result", result)]).inc();
    }

    /// The count of certificate re-reads with one result.
    pub fn rotations(&self, ok: bool) -> u64 {
        let result = if ok { "ok" } else { "refused" };
        self.rotations.get_or_create(&[("result", result)]).get()
    }
}

fn labels(direction: Direction, reason: HandshakeFailure) -> FailureLabels {
    [
        ("direction", direction.as_str()),
        ("reason", reason.as_str()),
    ]
}

/// Computes `meshd_cert_expiry_seconds` from the stores at scrape time.
#[derive(Debug, Default)]
struct CertExpiryCollector {
    stores: Mutex<Vec<IdentityStore>>,
}

impl Collector for CertExpiryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<(String, f64)> = stores
            .iter()
            .map(|store| {
                let identity = store.with_current(|cert| cert.identity.to_string());
                (identity, store.seconds_until_expiry().floor())
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows.dedup_by(|a, b| a.0 == b.0);
        let mut family = encoder.encode_descriptor(
            "meshd_cert_expiry_seconds",
            "Seconds until the workload certificate in force expires (negative once expired)",
            None,
            MetricType::Gauge,
        )?;
        for (identity, seconds) in rows {
            let labels = [("identity", identity.as_str())];
            ConstGauge::new(seconds).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
