//! Request counts by gateway, route, status and denial step, kept per worker thread (a plain map
//! behind a lock only its own thread takes on the request path) and summed when scraped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use foldhash::fast::FixedState;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

use super::name_arena::NameArena;
use crate::forward::worker_slot::current_slot;

/// The route label of requests that matched no route.
pub const NO_ROUTE: &str = "-";

/// Identifies a `(gateway, route)` pair; ids survive reloads, so counts continue across them.
pub type RouteId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CountKey {
    route: RouteId,
    status: u16,
    denied_by: &'static str,
}

/// Names behind route ids, stored apart from any state (see [`NameArena`]).
#[derive(Debug, Default)]
struct RouteNames {
    /// foldhash: SipHash was a twentieth of the start of a 100 000-route program, and the
    /// names come from the operator's bundle, not from requests.
    ids: HashMap<(&'static str, &'static str), RouteId, FixedState>,
    names: Vec<(&'static str, &'static str)>,
    arena: NameArena,
}

/// One row of a snapshot: `(gateway, route, status, denied_by)` and the count.
pub type CountRow = ((&'static str, &'static str, u16, &'static str), u64);

/// Per-worker request counters.
#[derive(Debug)]
pub struct RequestCounters {
    slots: Box<[Mutex<HashMap<CountKey, u64, FixedState>>]>,
    routes: Mutex<RouteNames>,
}

impl RequestCounters {
    /// Counters for `workers` workers plus one slot for other threads.
    pub fn new(workers: usize) -> Self {
        RequestCounters {
            slots: (0..=workers)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            routes: Mutex::new(RouteNames::default()),
        }
    }

    /// The id of a route (the same id for the same names, across reloads).
    pub fn route_id(&self, gateway: &str, route: &str) -> RouteId {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = routes.ids.get(&(gateway, route)) {
            return *id;
        }
        let key = (routes.arena.intern(gateway), routes.arena.intern(route));
        let id = RouteId::try_from(routes.names.len()).unwrap_or(RouteId::MAX);
        routes.names.push(key);
        routes.ids.insert(key, id);
        id
    }

    /// Counts one request; `denied_by` is the denial step, or `""`.
    pub fn count(&self, route: RouteId, status: u16, denied_by: &'static str) {
        let slot = &self.slots[current_slot(self.slots.len())];
        let mut counts = slot.lock().unwrap_or_else(|p| p.into_inner());
        *counts
            .entry(CountKey {
                route,
                status,
                denied_by,
            })
            .or_insert(0) += 1;
    }

    /// Every count summed over workers, sorted by gateway, route, status and step.
    pub fn snapshot(&self) -> Vec<CountRow> {
        let mut totals: HashMap<CountKey, u64> = HashMap::new();
        for slot in self.slots.iter() {
            let counts = slot.lock().unwrap_or_else(|p| p.into_inner());
            for (key, count) in counts.iter() {
                *totals.entry(*key).or_insert(0) += count;
            }
        }
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<_> = totals
            .into_iter()
            .filter_map(|(key, count)| {
                let (gateway, route) = *routes.names.get(key.route as usize)?;
                Some(((gateway, route, key.status, key.denied_by), count))
            })
            .collect();
        rows.sort();
        rows
    }
}

/// Exposes [`RequestCounters`] as `meshd_requests_total`.
#[derive(Debug)]
pub struct RequestCountersCollector(pub Arc<RequestCounters>);

impl Collector for RequestCountersCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows = self.0.snapshot();
        let mut family = encoder.encode_descriptor(
            "meshd_requests",
            "Requests answered, by gateway, route, status and denial step",
            None,
            MetricType::Counter,
        )?;
        for ((gateway, route, status, denied_by), count) in rows {
            let status = status.to_string();
            let labels = [
                ("gateway", gateway),
                ("route", route),
                ("status", status.as_str()),
                ("denied_by", denied_by),
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
    fn counts_from_every_thread_are_summed_per_label_set() {
        let counters = Arc::new(RequestCounters::new(2));
        let ping = counters.route_id("edge", "ping");
        assert_eq!(counters.route_id("edge", "ping"), ping);
        let other = counters.route_id("edge", "other");
        counters.count(ping, 200, "");
        let c = Arc::clone(&counters);
        std::thread::spawn(move || {
            crate::forward::worker_slot::enter_worker(0);
            c.count(ping, 200, "");
            c.count(other, 401, "auth");
        })
        .join()
        .unwrap();
        let rows = counters.snapshot();
        assert_eq!(
            rows,
            vec![
                (("edge", "other", 401, "auth"), 1),
                (("edge", "ping", 200, ""), 2),
            ]
        );
    }
}
