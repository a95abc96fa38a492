//! The per-route cap on upgraded connections and their metrics, in one place because the cap *is*
//! the active gauge: the count survives bundle reloads (it lives with the process's metrics, keyed
//! by the route's name), so a reload never resets a full route to empty.
//!
//! Families, labelled `proxy` (the gateway's name, or `inbound` / `outbound` on a sidecar) and
//! `route` (the route's name; on a sidecar, the destination service), both from the bundle:
//! `meshd_upgrades_active` (tunnels open now), `meshd_upgrades_total` (upgrades switched),
//! `meshd_upgrades_refused_total{reason}` (`cap`: the route was full, 503; `off`: the route
//! refuses upgrades, 403), `meshd_upgrades_idle_closed_total` (tunnels closed by the idle timeout).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// The families of upgraded connections.
#[derive(Debug, Default)]
pub struct UpgradeMetrics {
    active: Family<Labels, Gauge>,
    switched: Family<Labels, Counter>,
    refused: Family<Labels, Counter>,
    idle_closed: Family<Labels, Counter>,
}

impl UpgradeMetrics {
    /// Registers the families.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "meshd_upgrades_active",
            "Upgraded connections (WebSocket) open now, by proxy and route",
            self.active.clone(),
        );
        registry.register(
            "meshd_upgrades",
            "Upgrade requests the upstream switched (101), by proxy and route",
            self.switched.clone(),
        );
        registry.register(
            "meshd_upgrades_refused",
            "Upgrade requests refused before the upstream saw them, by proxy, route and reason (cap: the route was full; off: the route refuses upgrades)",
            self.refused.clone(),
        );
        registry.register(
            "meshd_upgrades_idle_closed",
            "Upgraded connections closed because no byte moved either way for the idle timeout",
            self.idle_closed.clone(),
        );
    }

    /// The gate of one route (`proxy` is the gateway's name, or `inbound` / `outbound`).
    pub fn gate(&self, proxy: &str, route: &str) -> UpgradeGate {
        let labels = vec![("proxy", proxy.to_string()), ("route", route.to_string())];
        let refused = |reason: &str| {
            let mut labels = labels.clone();
            labels.push(("reason", reason.to_string()));
            self.refused.get_or_create(&labels).clone()
        };
        UpgradeGate {
            active: self.active.get_or_create(&labels).clone(),
            switched: self.switched.get_or_create(&labels).clone(),
            idle_closed: self.idle_closed.get_or_create(&labels).clone(),
            refused_cap: refused("cap"),
            refused_off: refused("off"),
        }
    }
}

/// One route's counters, and its cap.
#[derive(Debug, Clone)]
pub struct UpgradeGate {
    active: Gauge,
    switched: Counter,
    idle_closed: Counter,
    refused_cap: Counter,
    refused_off: Counter,
}

impl UpgradeGate {
    /// A place among the route's `max` open tunnels, or `None` (counted) when all are taken.
    pub fn try_open(&self, max: u32) -> Option<UpgradePermit> {
        // `inc` returns the count before this one, atomically: two racing upgrades cannot both
        // take the last place.
        if self.active.inc() >= i64::from(max) {
            self.active.dec();
            self.refused_cap.inc();
            return None;
        }
        Some(UpgradePermit { gate: self.clone() })
    }

    /// Counts an upgrade refused because the route refuses upgrades.
    pub fn count_off(&self) {
        self.refused_off.inc();
    }
}

/// One place among a route's open tunnels, from before the upgrade is forwarded until the tunnel
/// closes (or the upgrade fails); dropping it frees the place.
#[derive(Debug)]
pub struct UpgradePermit {
    gate: UpgradeGate,
}

impl UpgradePermit {
    /// The upstream switched protocols: the tunnel is open.
    pub fn switched(&self) {
        self.gate.switched.inc();
    }

    /// The tunnel is being closed by the idle timeout.
    pub fn closed_idle(&self) {
        self.gate.idle_closed.inc();
    }
}

impl Drop for UpgradePermit {
    fn drop(&mut self) {
        self.gate.active.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_refuses_the_next_upgrade_until_a_place_is_freed() {
        let metrics = UpgradeMetrics::default();
        let gate = metrics.gate("edge", "chat");
        let first = gate.try_open(2).unwrap();
        let _second = gate.try_open(2).unwrap();
        assert!(gate.try_open(2).is_none());
        drop(first);
        assert!(metrics.gate("edge", "chat").try_open(2).is_some());
        assert!(gate.try_open(0).is_none());
    }
}
