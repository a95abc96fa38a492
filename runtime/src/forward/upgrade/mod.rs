//! HTTP/1.1 protocol upgrades (WebSocket above all): a client's upgrade request, once admitted, is
//! sent to one endpoint on a connection of its own; the upstream's `101 Switching Protocols` goes
//! back to the client with the upstream's headers, and from then on the two connections are one
//! tunnel whose bytes meshd copies both ways through bounded buffers ([`tunnel`]) until either side
//! closes or nothing moves for the route's idle timeout. Each route caps how many of its
//! tunnels are open at once ([`upgrade_gate`]); a route can refuse upgrades altogether.
//!
//! The request path reaches this module through two small hooks: the chains call
//! [`upgrade_exchange::forward_upgrade`] instead of [`super::forward`] when
//! [`upgrade_admission::start_upgrade`] gives an upgrade request its place, and the HTTP/1 server
//! hands its connection to [`tunnel::run_tunnel`] when the response is a switch.

pub mod pipe;
pub mod switched_response;
pub mod tunnel;
pub mod upgrade_admission;
pub mod upgrade_exchange;
pub mod upgrade_gate;
pub mod upgrade_policy;
pub mod upgrade_request;

pub use switched_response::Switched;
pub use upgrade_admission::{start_upgrade, UpgradeSite, UpgradeStart};
pub use upgrade_exchange::{forward_upgrade, Opening};
pub use upgrade_gate::{UpgradeGate, UpgradeMetrics, UpgradePermit};
pub use upgrade_policy::UpgradePolicy;
pub use upgrade_request::{upgrade_asked, UpgradeAsk};
