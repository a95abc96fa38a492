//! The mesh policy: which gateways and services may call which services.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bundle::{Effect, SourceLocation};
use super::route::{FaultAction, RouteMirror};

/// Service-to-service permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Mesh")]
#[serde(deny_unknown_fields)]
pub struct Mesh {
    /// What happens to a call no rule matches.
    pub default: Effect,
    /// Where the `default` was written, or `null` when the program states none.
    #[serde(deserialize_with = "super::bounded::present")]
    pub default_source: Option<SourceLocation>,
    /// Whether mesh traffic must use mutual TLS.
    pub mtls: MtlsMode,
    /// The SPIFFE trust domain (`trust_domain "starfleet"`), or `null`. When set, a service or
    /// gateway without an `identity` of its own is `spiffe://<trust_domain>/<name>`.
    #[serde(deserialize_with = "super::bounded::present")]
    pub trust_domain: Option<String>,
    /// Rules in source order (files sorted by path).
    pub rules: Vec<MeshRule>,
    /// Faults injected on mesh pairs, in source order; left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<MeshFault>,
    /// Mirrors on mesh pairs, in source order; left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<MeshMirror>,
    /// How an HTTP/1.1 service's calls go between sidecars (`between_sidecars h2|http1`); left
    /// out when `h2`, the default.
    #[serde(default, skip_serializing_if = "SidecarHop::is_h2")]
    pub between_sidecars: SidecarHop,
}

impl Default for Mesh {
    /// A program without a `mesh` block: every call allowed, mTLS permissive.
    fn default() -> Self {
        Mesh {
            default: Effect::Allow,
            default_source: None,
            mtls: MtlsMode::Permissive,
            trust_domain: None,
            rules: Vec::new(),
            faults: Vec::new(),
            mirrors: Vec::new(),
            between_sidecars: SidecarHop::H2,
        }
    }
}

/// The protocol between the caller's sidecar (or the gateway) and the called service's sidecar
/// for a service that speaks HTTP/1.1. A service that speaks HTTP/2 is spoken to with HTTP/2 on
/// every hop, and a tcp service's bytes are piped, whatever this says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SidecarHop {
    /// Calls are streams of multiplexed HTTP/2 connections inside mutual TLS (Linkerd's
    /// transparent upgrade); the called sidecar speaks HTTP/1.1 to its app.
    #[default]
    H2,
    /// Calls stay HTTP/1.1, one kept-alive connection per call in flight (Istio's default).
    Http1,
}

impl SidecarHop {
    /// Whether it is the default, HTTP/2.
    pub fn is_h2(&self) -> bool {
        *self == SidecarHop::H2
    }
}

/// Whether mesh traffic must use mutual TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MtlsMode {
    /// Plain connections are refused.
    Strict,
    /// mTLS when both sides can, plain otherwise.
    Permissive,
}

/// `allow|deny FROM -> TO [when CEL]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "MeshRule")]
#[serde(deny_unknown_fields)]
pub struct MeshRule {
    /// Allow or deny.
    pub effect: Effect,
    /// The calling gateway or service, or `*`.
    pub from: String,
    /// The called services (`*` for any), in source order.
    pub to: Vec<String>,
    /// A CEL condition, or `null` for always.
    #[serde(deserialize_with = "super::bounded::present")]
    pub when: Option<String>,
    /// Where the rule was written.
    pub source: SourceLocation,
}

/// `fault FROM -> TO abort|delay PERCENT … [when CEL]`: a share of the calls from `from` to the
/// services in `to` is aborted or delayed by the destination's sidecar, after the mesh allowed
/// the call (Kuma's MeshFaultInjection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "MeshFault")]
#[serde(deny_unknown_fields)]
pub struct MeshFault {
    /// The calling gateway or service, or `*`.
    pub from: String,
    /// The called services (`*` for any), in source order.
    pub to: Vec<String>,
    /// What the fault does.
    pub action: FaultAction,
    /// The share of matching calls faulted, 0–100.
    #[schemars(range(max = 100))]
    #[serde(deserialize_with = "super::bounded::percent")]
    pub percent: u8,
    /// A CEL condition (the mesh rules' variables) a call must meet, or `null` for every call.
    #[serde(deserialize_with = "super::bounded::present")]
    pub when: Option<String>,
    /// Where the fault was written.
    pub source: SourceLocation,
}

impl MeshFault {
    /// Whether the fault is on the pair `source` (a member's name; `None` for a caller the mesh
    /// does not know, matched only by `*`) → `destination`.
    pub fn covers(&self, source: Option<&str>, destination: &str) -> bool {
        (self.from == "*" || Some(self.from.as_str()) == source)
            && self.to.iter().any(|t| t == "*" || t == destination)
    }
}

/// `mirror FROM -> TO to SERVICE [P%] [max_body SIZE] [queue N]`: the caller's outbound sidecar
/// copies a share of the calls from `from` to the services in `to` to the mirror service, fire
/// and forget (Istio's VirtualService `mirror`, applied by the client's sidecar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "MeshMirror")]
#[serde(deny_unknown_fields)]
pub struct MeshMirror {
    /// The calling service, or `*`.
    pub from: String,
    /// The called services (`*` for any), in source order.
    pub to: Vec<String>,
    /// Where the copies go, their share, body limit and queue (as on a route).
    pub mirror: RouteMirror,
    /// Where the mirror was written.
    pub source: SourceLocation,
}

impl MeshMirror {
    /// Whether the mirror is on the pair `source` → `destination`.
    pub fn covers(&self, source: &str, destination: &str) -> bool {
        (self.from == "*" || self.from == source)
            && self.to.iter().any(|t| t == "*" || t == destination)
    }
}

super::read_through!(crate::types::map_only::MapOnly:Mesh, MeshRule, MeshFault, MeshMirror);
