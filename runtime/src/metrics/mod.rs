//! Prometheus metrics: one registry for the whole process. Other parts (admission, Kafka) register
//! their own families into it through [`Metrics::register`]; the admin listener encodes it.
//!
//! meshd's own families: `meshd_requests_total{gateway,route,status,denied_by}`,
//! `meshd_upstream_duration_seconds{service,endpoint}` (send to response head),
//! `meshd_bundle_info{digest,compiler_version,serial,source,etag}` (1 for the bundle being served:
//! which instances run which bundle, from where) and
//! `meshd_bundle_loads_total{result}` (`ok` or `refused`),
//! `meshd_faults_injected_total{gateway,route,fault}` (`abort` or `delay`),
//! `meshd_retry_budget_exhausted_total{service}` (retries a retry budget refused),
//! `meshd_max_requests_refused_total{service}` (requests refused at a service's `max_requests`),
//! `meshd_outlier_ejections_total{service,detector}` (endpoints ejected, by the detector that
//! ejected them), `meshd_outlier_ejected_endpoints{service}` (see [`ejected_endpoints`]) and
//! `meshd_mirror_requests_total{gateway,route,service,result}` (mirror copies; a mesh pair's are
//! labelled `source,destination,service,result`) with `meshd_mirror_in_flight`, the upgraded
//! connections' families ([`crate::forward::upgrade::upgrade_gate`]); the mesh's families are [`crate::mesh::mesh_metrics`] and
//! [`crate::mesh::identity::IdentityMetrics`].

pub mod ejected_endpoints;
mod name_arena;
pub mod request_counters;

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub use request_counters::{RequestCounters, RouteId, NO_ROUTE};

use crate::forward::mirror::MirrorCounters;
use crate::forward::upgrade::UpgradeMetrics;
use crate::mesh::mesh_metrics::MeshMetrics;

type Labels = Vec<(&'static str, String)>;

/// Builds upstream latency histograms: 0.25 ms to about 16 s, doubling.
#[derive(Debug, Clone, Copy)]
pub struct LatencyBuckets;

impl MetricConstructor<Histogram> for LatencyBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(exponential_buckets(0.000_25, 2.0, 17))
    }
}

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Request counts.
    pub requests: Arc<RequestCounters>,
    /// Mesh call counts (a sidecar's; families stay empty in a gateway).
    pub mesh: Arc<MeshMetrics>,
    /// Upgraded connections (WebSocket) and each route's cap on them.
    pub upgrades: UpgradeMetrics,
    upstream_latency: Family<Labels, Histogram, LatencyBuckets>,
    bundle_info: Family<Labels, Gauge>,
    bundle_loads: Family<Labels, Counter>,
    replaced_states: Gauge,
    faults_injected: Family<Labels, Counter>,
    retry_budget_exhausted: Family<Labels, Counter>,
    max_requests_refused: Family<Labels, Counter>,
    mirror_requests: Family<Labels, Counter>,
    mirror_in_flight: Family<Labels, Gauge>,
    outlier_ejections: Family<Labels, Counter>,
}

impl Metrics {
    /// A registry with meshd's families, for `workers` worker threads.
    pub fn new(workers: usize) -> Arc<Metrics> {
        let mut registry = Registry::default();
        let requests = Arc::new(RequestCounters::new(workers));
        registry.register_collector(Box::new(request_counters::RequestCountersCollector(
            Arc::clone(&requests),
        )));
        let mesh = MeshMetrics::new(workers);
        mesh.register(&mut registry);
        let upgrades = UpgradeMetrics::default();
        upgrades.register(&mut registry);
        let upstream_latency = Family::new_with_constructor(LatencyBuckets);
        registry.register(
            "meshd_upstream_duration_seconds",
            "Time from sending a request upstream to its response head",
            upstream_latency.clone(),
        );
        let bundle_info = Family::default();
        registry.register(
            "meshd_bundle_info",
            "The bundle being served (value 1), labelled with its digest",
            bundle_info.clone(),
        );
        let bundle_loads = Family::default();
        registry.register(
            "meshd_bundle_loads",
            "Bundle loads and reloads by result (ok or refused)",
            bundle_loads.clone(),
        );
        let replaced_states = Gauge::default();
        registry.register(
            "meshd_replaced_states",
            "States replaced by a reload and not yet freed: requests that started on them are still in flight (let go to their last request after 120 s)",
            replaced_states.clone(),
        );
        let faults_injected = Family::default();
        registry.register(
            "meshd_faults_injected",
            "Faults injected by routes' `fault` rules, by gateway, route and fault (abort or delay)",
            faults_injected.clone(),
        );
        let retry_budget_exhausted = Family::default();
        registry.register(
            "meshd_retry_budget_exhausted",
            "Retries a service's retry budget refused (the failure was answered instead)",
            retry_budget_exhausted.clone(),
        );
        let max_requests_refused = Family::default();
        registry.register(
            "meshd_max_requests_refused",
            "Requests answered 503 because their service had its circuit breaker's max_requests in flight",
            max_requests_refused.clone(),
        );
        let mirror_requests = Family::default();
        registry.register(
            "meshd_mirror_requests",
            "Mirror copies by gateway, route (a route's `mirror`) or by source and destination (a mesh pair's, made by the caller's sidecar), mirror service and result (sent, failed, dropped: the queue was full, skipped_body: body too large or streamed)",
            mirror_requests.clone(),
        );
        let mirror_in_flight = Family::default();
        registry.register(
            "meshd_mirror_in_flight",
            "Mirror copies sent and not yet answered or failed, by the labels of meshd_mirror_requests but result; at most the mirror's `queue`",
            mirror_in_flight.clone(),
        );
        let outlier_ejections = Family::default();
        registry.register(
            "meshd_outlier_ejections",
            "Endpoints ejected from a service's rotation, by service and detector (consecutive_errors, failure_percentage, success_rate, latency)",
            outlier_ejections.clone(),
        );
        Arc::new(Metrics {
            registry: Mutex::new(registry),
            requests,
            mesh,
            upgrades,
            upstream_latency,
            bundle_info,
            bundle_loads,
            replaced_states,
            faults_injected,
            retry_budget_exhausted,
            max_requests_refused,
            mirror_requests,
            mirror_in_flight,
            outlier_ejections,
        })
    }

    /// Lets another part of meshd register its families.
    pub fn register(&self, add: impl FnOnce(&mut Registry)) {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        add(&mut registry);
    }

    /// The latency histogram of one endpoint.
    pub fn upstream_latency(&self, service: &str, endpoint: &str) -> Histogram {
        self.upstream_latency
            .get_or_create(&vec![
                ("service", service.to_string()),
                ("endpoint", endpoint.to_string()),
            ])
            .clone()
    }

    /// The counter of one route's injected faults of one kind (`abort` or `delay`).
    pub fn fault_counter(&self, gateway: &str, route: &str, fault: &'static str) -> Counter {
        self.faults_injected
            .get_or_create(&vec![
                ("gateway", gateway.to_string()),
                ("route", route.to_string()),
                ("fault", fault.to_string()),
            ])
            .clone()
    }

    /// The counter of retries `service`'s retry budget refused.
    pub fn retry_budget_exhausted(&self, service: &str) -> Counter {
        self.retry_budget_exhausted
            .get_or_create(&vec![("service", service.to_string())])
            .clone()
    }

    /// The counter of requests refused at `service`'s `max_requests`.
    pub fn max_requests_refused(&self, service: &str) -> Counter {
        self.max_requests_refused
            .get_or_create(&vec![("service", service.to_string())])
            .clone()
    }

    /// The counter of `service`'s ejections by `detector`.
    pub fn outlier_ejections(&self, service: &str, detector: &str) -> Counter {
        self.outlier_ejections
            .get_or_create(&vec![
                ("service", service.to_string()),
                ("detector", detector.to_string()),
            ])
            .clone()
    }

    /// The counters of one route's mirror copies, by result.
    pub fn mirror_counters(&self, gateway: &str, route: &str, service: &str) -> MirrorCounters {
        self.mirror_family([("gateway", gateway), ("route", route)], service)
    }

    /// The counters of one mesh pair's mirror copies (made by `source`'s sidecar for its calls
    /// to `destination`), by result. Every name comes from the bundle.
    pub fn mesh_mirror_counters(
        &self,
        source: &str,
        destination: &str,
        service: &str,
    ) -> MirrorCounters {
        self.mirror_family([("source", source), ("destination", destination)], service)
    }

    /// Mirror counters labelled by `place` (a route, or a mesh pair) and the mirror `service`.
    fn mirror_family(&self, place: [(&'static str, &str); 2], service: &str) -> MirrorCounters {
        let labels = |result: Option<&str>| {
            let mut labels: Vec<(&'static str, String)> = place
                .iter()
                .map(|(name, value)| (*name, value.to_string()))
                .collect();
            labels.push(("service", service.to_string()));
            if let Some(result) = result {
                labels.push(("result", result.to_string()));
            }
            labels
        };
        let counter = |result: &str| {
            self.mirror_requests
                .get_or_create(&labels(Some(result)))
                .clone()
        };
        MirrorCounters {
            sent: counter("sent"),
            failed: counter("failed"),
            dropped: counter("dropped"),
            skipped_body: counter("skipped_body"),
            in_flight: self.mirror_in_flight.get_or_create(&labels(None)).clone(),
        }
    }

    /// Records the bundle now served: its digest, compiler, serial, where it came from (a URL,
    /// a file, source paths) and its HTTP `ETag` when it was fetched.
    pub fn bundle_loaded(
        &self,
        digest: &str,
        compiler_version: &str,
        serial: u64,
        source: &str,
        etag: Option<&str>,
    ) {
        self.bundle_info.clear();
        self.bundle_info
            .get_or_create(&vec![
                ("digest", digest.to_string()),
                ("compiler_version", compiler_version.to_string()),
                ("serial", serial.to_string()),
                ("source", label_text(source)),
                ("etag", label_text(etag.unwrap_or_default())),
            ])
            .set(1);
        self.count_load(true);
    }

    /// Counts a load attempt.
    pub fn count_load(&self, ok: bool) {
        let result = if ok { "ok" } else { "refused" };
        self.bundle_loads
            .get_or_create(&vec![("result", result.to_string())])
            .inc();
    }

    /// The number of replaced states not yet freed (see `reload::reloader`).
    pub fn replaced_states(&self) -> Gauge {
        self.replaced_states.clone()
    }

    /// The Prometheus (OpenMetrics) text of every family.
    pub fn encode(&self) -> String {
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let mut text = String::new();
        if encode(&mut text, &registry).is_err() {
            text.clear();
        }
        text
    }
}

/// A label value the text encoder prints as is: it does not escape `"`, `\` or newlines, so an
/// `ETag` (`"6b15-89e"`) or a path would break the exposition. Quotes become `'`.
fn label_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_info_labels_stay_valid_exposition_text() {
        let metrics = Metrics::new(1);
        metrics.bundle_loaded(
            "sha256:ab",
            "meshc 0.1.0",
            7,
            "C:\\b\"x\".json",
            Some("\"6b15-89e\""),
        );
        let text = metrics.encode();
        let line = text
            .lines()
            .find(|l| l.starts_with("meshd_bundle_info{"))
            .unwrap();
        assert!(
            line.contains(r#"serial="7",source="C:/b'x'.json",etag="'6b15-89e'""#),
            "{line}"
        );
    }
}
