//! The mesh policy: which gateways and services may call which services.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bundle::{Effect, SourceLocation};

/// Service-to-service permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
        }
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
