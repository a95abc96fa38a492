//! The upgrade's own admission, after the route's (auth, limits, conditions) and before anything
//! is forwarded: a request that asks for an upgrade either gets a place among the route's open
//! tunnels or a refusal the client reads before any 101 — 403 on a route that refuses upgrades,
//! 400 for an upgrade request with a body (its bytes could not be told from the new protocol's:
//! a smuggling shape), 503 when the route's tunnels are all taken.

use http::{StatusCode, Version};

use super::upgrade_exchange::Opening;
use super::upgrade_gate::UpgradeMetrics;
use super::upgrade_policy::UpgradePolicy;
use super::upgrade_request::upgrade_asked;
use crate::forward::MessageHeaders;

/// What becomes of a request as far as upgrades go.
#[derive(Debug)]
pub enum UpgradeStart {
    /// It does not ask for an upgrade: forwarded as any request.
    NotAsked,
    /// It asks, and has its place: forward it as an upgrade.
    Open(Opening),
    /// It asks and is refused with this status and reason.
    Refused(StatusCode, String),
}

/// Where the request is, for the metrics' labels and the reasons.
#[derive(Debug, Clone, Copy)]
pub struct UpgradeSite<'a> {
    /// The gateway's name, or `inbound` / `outbound` on a sidecar.
    pub proxy: &'a str,
    /// The route's name (a sidecar's: the destination service).
    pub route: &'a str,
}

/// Decides on an upgrade request: `body_is_end` says the request has no body.
pub fn start_upgrade(
    policy: &UpgradePolicy,
    metrics: &UpgradeMetrics,
    site: UpgradeSite<'_>,
    version: Version,
    headers: &MessageHeaders,
    body_is_end: bool,
) -> UpgradeStart {
    let Some(ask) = upgrade_asked(version, headers) else {
        return UpgradeStart::NotAsked;
    };
    let route = site.route;
    let gate = metrics.gate(site.proxy, route);
    if !policy.allowed {
        gate.count_off();
        return UpgradeStart::Refused(
            StatusCode::FORBIDDEN,
            format!("route `{route}` refuses protocol upgrades (`websocket off`)"),
        );
    }
    if !body_is_end {
        return UpgradeStart::Refused(
            StatusCode::BAD_REQUEST,
            "an upgrade request cannot carry a body".to_string(),
        );
    }
    match gate.try_open(policy.max) {
        Some(permit) => UpgradeStart::Open(Opening {
            ask,
            permit,
            idle: policy.idle,
        }),
        None => UpgradeStart::Refused(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "route `{route}` has {} upgraded connections open, its limit (`websocket {{ max {} }}`)",
                policy.max, policy.max
            ),
        ),
    }
}
