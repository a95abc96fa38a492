//! A route's (or a sidecar's) rules for upgraded connections: whether upgrades are forwarded,
//! how many may be open at once, and how long a tunnel may stay silent.

use std::time::Duration;

use meshwork_bundle::RouteUpgrades;

/// What a route allows of upgraded connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpgradePolicy {
    /// Whether upgrade requests are forwarded (`websocket off` refuses them).
    pub allowed: bool,
    /// The most tunnels open at once on the route (per meshd process).
    pub max: u32,
    /// A tunnel with no byte either way for this long is closed.
    pub idle: Duration,
}

impl UpgradePolicy {
    /// The policy a bundle's route states, or the defaults when it states none.
    pub fn from_bundle(bundled: Option<&RouteUpgrades>) -> Self {
        let bundled = bundled.copied().unwrap_or_default();
        UpgradePolicy {
            allowed: bundled.allowed,
            max: bundled.max,
            idle: Duration::from_millis(bundled.idle_ms),
        }
    }
}

impl Default for UpgradePolicy {
    fn default() -> Self {
        UpgradePolicy::from_bundle(None)
    }
}
