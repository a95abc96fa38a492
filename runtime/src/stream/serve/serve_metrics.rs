//! Metrics of `serve` routes: clients connected, events sent and skipped, clients cut off for
//! reading too slowly, and clients refused because the route was full.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// A serve route and the topic it serves.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteTopic {
    route: String,
    topic: String,
}

/// Every serve metric family. Cheap to clone (the families are shared).
#[derive(Clone, Default)]
pub struct ServeMetrics {
    clients: Family<RouteTopic, Gauge>,
    events: Family<RouteTopic, Counter>,
    filtered: Family<RouteTopic, Counter>,
    slow_clients: Family<RouteTopic, Counter>,
    refused_clients: Family<RouteTopic, Counter>,
}

impl std::fmt::Debug for ServeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServeMetrics")
    }
}

impl ServeMetrics {
    /// Registers the families in `kafka` (the `kafka_` sub-registry).
    pub fn register(&self, kafka: &mut Registry) {
        kafka.register(
            "serve_clients",
            "HTTP clients a serve route is streaming a topic to (SSE and long-poll)",
            self.clients.clone(),
        );
        kafka.register(
            "serve_events",
            "Records sent to HTTP clients by serve routes",
            self.events.clone(),
        );
        kafka.register(
            "serve_filtered_records",
            "Records a serve route's condition skipped (false, or failed to evaluate)",
            self.filtered.clone(),
        );
        kafka.register(
            "serve_slow_clients",
            "Clients disconnected because their queue reached the route's buffer bound",
            self.slow_clients.clone(),
        );
        kafka.register(
            "serve_refused_clients",
            "Clients answered 503 because the route already served its maximum of clients",
            self.refused_clients.clone(),
        );
    }

    /// Pre-resolved handles for one route.
    pub fn tally(&self, route: &str, topic: &str) -> ServeTally {
        let labels = RouteTopic {
            route: route.to_owned(),
            topic: topic.to_owned(),
        };
        ServeTally {
            clients: self.clients.get_or_create_owned(&labels),
            events: self.events.get_or_create_owned(&labels),
            filtered: self.filtered.get_or_create_owned(&labels),
            slow_clients: self.slow_clients.get_or_create_owned(&labels),
            refused_clients: self.refused_clients.get_or_create_owned(&labels),
        }
    }
}

/// One route's counters; cloning shares them.
#[derive(Clone, Debug)]
pub struct ServeTally {
    /// Clients connected now.
    pub clients: Gauge,
    /// Records sent.
    pub events: Counter,
    /// Records skipped by the condition.
    pub filtered: Counter,
    /// Clients cut off as too slow.
    pub slow_clients: Counter,
    /// Clients refused (route full).
    pub refused_clients: Counter,
}
