//! The mesh's Prometheus families, registered into the process registry by a sidecar:
//!
//! - `meshd_mesh_requests_total{direction,source,destination,code}`: calls a sidecar served,
//!   `direction` `inbound` (calls to its service) or `outbound` (its app's calls), `source` a
//!   gateway or service of the program, `unauthenticated` (plaintext) or `unknown` (an identity no
//!   member has); names come from the bundle, never from a request, so the label set is bounded;
//! - `meshd_mesh_denials_total{destination,rule}`: calls the mesh refused, by the deciding rule
//!   (`file:line`) or `default`;
//! - `meshd_mesh_plaintext_requests_total{destination}`: calls accepted without mTLS under
//!   `mtls permissive`, the figure that says when `strict` is safe;
//! - `meshd_mesh_faults_injected_total{source,destination,fault}`: faults a pair's `fault` line
//!   injected, `source` as the line names the caller (a member or `*`), `fault` `abort` or `delay`;
//! - `meshd_mesh_tcp_connections_total{direction,source,destination,outcome}`: connections to a
//!   `protocol tcp` service, `outcome` `closed` (carried to its end), `idle` (closed by the
//!   sidecar at `--tcp-idle-timeout`), `denied` or `failed` (no endpoint or app could be reached);
//! - `meshd_mesh_tcp_bytes_total{direction,destination,flow}`: the bytes they carried, `flow`
//!   `to_destination` or `from_destination`.
//!
//! Request counts are kept per worker thread, like `meshd_requests_total`, and summed at scrape.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use foldhash::fast::FixedState;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::forward::worker_slot::current_slot;

/// Which side of a sidecar served a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MeshDirection {
    /// A call to the sidecar's service.
    Inbound,
    /// A call by the sidecar's app.
    Outbound,
}

impl MeshDirection {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            MeshDirection::Inbound => "inbound",
            MeshDirection::Outbound => "outbound",
        }
    }
}

/// A name's id in the counters (ids are never reused, so counts continue across reloads).
pub type NameId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CallKey {
    direction: MeshDirection,
    source: NameId,
    destination: NameId,
    code: u16,
}

type Labels1 = [(&'static str, String); 1];
type Labels2 = [(&'static str, String); 2];
type Labels3 = [(&'static str, String); 3];
type Labels4 = [(&'static str, String); 4];

/// One row of a snapshot: direction, source, destination, code and the count.
pub type CallRow = ((MeshDirection, Arc<str>, Arc<str>, u16), u64);

/// The mesh's counters.
#[derive(Debug)]
pub struct MeshMetrics {
    slots: Box<[Mutex<HashMap<CallKey, u64, FixedState>>]>,
    names: Mutex<Names>,
    denials: Family<Labels2, Counter>,
    plaintext: Family<Labels1, Counter>,
    faults: Family<Labels3, Counter>,
    tcp_connections: Family<Labels4, Counter>,
    tcp_bytes: Family<Labels3, Counter>,
}

#[derive(Debug, Default)]
struct Names {
    ids: HashMap<Arc<str>, NameId>,
    names: Vec<Arc<str>>,
}

impl MeshMetrics {
    /// Counters for `workers` worker threads (plus a slot for other threads).
    pub fn new(workers: usize) -> Arc<MeshMetrics> {
        Arc::new(MeshMetrics {
            slots: (0..=workers)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            names: Mutex::new(Names::default()),
            denials: Family::default(),
            plaintext: Family::default(),
            faults: Family::default(),
            tcp_connections: Family::default(),
            tcp_bytes: Family::default(),
        })
    }

    /// Adds the families to the process registry.
    pub fn register(self: &Arc<Self>, registry: &mut Registry) {
        registry.register_collector(Box::new(MeshCallsCollector(Arc::clone(self))));
        registry.register(
            "meshd_mesh_denials",
            "Calls the mesh refused, by destination and deciding rule (file:line, or default)",
            self.denials.clone(),
        );
        registry.register(
            "meshd_mesh_plaintext_requests",
            "Calls accepted without mutual TLS (mtls permissive), by destination",
            self.plaintext.clone(),
        );
        registry.register(
            "meshd_mesh_faults_injected",
            "Faults injected into mesh calls by the mesh's `fault` lines, by the line's source, the destination and abort or delay",
            self.faults.clone(),
        );
        registry.register(
            "meshd_mesh_tcp_connections",
            "Connections to tcp services, by direction, source, destination and outcome (closed, idle, denied or failed)",
            self.tcp_connections.clone(),
        );
        registry.register(
            "meshd_mesh_tcp_bytes",
            "Bytes carried by connections to tcp services, by direction, destination and flow (to_destination or from_destination)",
            self.tcp_bytes.clone(),
        );
    }

    /// Counts a connection to a tcp service and the bytes it carried each way.
    pub fn count_tcp(
        &self,
        direction: MeshDirection,
        source: &str,
        destination: &str,
        outcome: &str,
        (to_destination, from_destination): (u64, u64),
    ) {
        self.tcp_connections
            .get_or_create(&[
                ("direction", direction.as_str().to_string()),
                ("source", source.to_string()),
                ("destination", destination.to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
        for (flow, bytes) in [
            ("to_destination", to_destination),
            ("from_destination", from_destination),
        ] {
            self.tcp_bytes
                .get_or_create(&[
                    ("direction", direction.as_str().to_string()),
                    ("destination", destination.to_string()),
                    ("flow", flow.to_string()),
                ])
                .inc_by(bytes);
        }
    }

    /// The injected-fault counter of a pair fault from `source` (as written) into `destination`.
    pub fn fault_counter(&self, source: &str, destination: &str, fault: &str) -> Counter {
        self.faults
            .get_or_create(&[
                ("source", source.to_string()),
                ("destination", destination.to_string()),
                ("fault", fault.to_string()),
            ])
            .clone()
    }

    /// The id of a name (taken once per bundle load, not per request).
    pub fn name_id(&self, name: &str) -> NameId {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = names.ids.get(name) {
            return *id;
        }
        let id = NameId::try_from(names.names.len()).unwrap_or(NameId::MAX);
        let name: Arc<str> = name.into();
        names.names.push(Arc::clone(&name));
        names.ids.insert(name, id);
        id
    }

    /// Counts one call.
    pub fn count_call(
        &self,
        direction: MeshDirection,
        source: NameId,
        destination: NameId,
        code: u16,
    ) {
        let slot = &self.slots[current_slot(self.slots.len())];
        let mut counts = slot.lock().unwrap_or_else(|p| p.into_inner());
        *counts
            .entry(CallKey {
                direction,
                source,
                destination,
                code,
            })
            .or_insert(0) += 1;
    }

    /// Counts a call the mesh refused by `rule` (`file:line` or `default`).
    pub fn count_denial(&self, destination: &str, rule: &str) {
        self.denials
            .get_or_create(&[
                ("destination", destination.to_string()),
                ("rule", rule.to_string()),
            ])
            .inc();
    }

    /// Counts a call accepted without mTLS.
    pub fn count_plaintext(&self, destination: &str) {
        self.plaintext
            .get_or_create(&[("destination", destination.to_string())])
            .inc();
    }

    /// Calls so far, summed over workers and sorted.
    pub fn calls(&self) -> Vec<CallRow> {
        let mut totals: HashMap<CallKey, u64> = HashMap::new();
        for slot in self.slots.iter() {
            let counts = slot.lock().unwrap_or_else(|p| p.into_inner());
            for (key, count) in counts.iter() {
                *totals.entry(*key).or_insert(0) += count;
            }
        }
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        let name = |id: NameId| names.names.get(id as usize).cloned();
        let mut rows: Vec<CallRow> = totals
            .into_iter()
            .filter_map(|(key, count)| {
                Some((
                    (
                        key.direction,
                        name(key.source)?,
                        name(key.destination)?,
                        key.code,
                    ),
                    count,
                ))
            })
            .collect();
        rows.sort();
        rows
    }
}

/// Exposes the call counts as `meshd_mesh_requests_total`.
#[derive(Debug)]
struct MeshCallsCollector(Arc<MeshMetrics>);

impl Collector for MeshCallsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows = self.0.calls();
        let mut family = encoder.encode_descriptor(
            "meshd_mesh_requests",
            "Mesh calls a sidecar served, by direction, source, destination and status code",
            None,
            MetricType::Counter,
        )?;
        for ((direction, source, destination, code), count) in rows {
            let code = code.to_string();
            let labels = [
                ("direction", direction.as_str()),
                ("source", &*source),
                ("destination", &*destination),
                ("code", code.as_str()),
            ];
            ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_summed_over_threads_by_their_names() {
        let metrics = MeshMetrics::new(1);
        let (picard, riker) = (metrics.name_id("picard"), metrics.name_id("riker"));
        assert_eq!(metrics.name_id("picard"), picard);
        metrics.count_call(MeshDirection::Inbound, picard, riker, 200);
        let shared = Arc::clone(&metrics);
        std::thread::spawn(move || {
            crate::forward::worker_slot::enter_worker(0);
            shared.count_call(MeshDirection::Inbound, picard, riker, 200);
            shared.count_call(MeshDirection::Outbound, riker, picard, 403);
        })
        .join()
        .unwrap();
        assert_eq!(
            metrics.calls(),
            vec![
                (
                    (MeshDirection::Inbound, "picard".into(), "riker".into(), 200),
                    2
                ),
                (
                    (
                        MeshDirection::Outbound,
                        "riker".into(),
                        "picard".into(),
                        403
                    ),
                    1
                ),
            ]
        );
    }
}
