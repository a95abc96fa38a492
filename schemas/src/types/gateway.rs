//! Gateways: listeners, consumers and their routes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bundle::{SecretRef, SourceLocation};
use super::route::Route;

// Fields are declared in key (byte) order, so the canonical writer, which sorts each object's
// keys, never has to move the routes written in the middle of the gateway.
/// A set of listeners admitting outside clients through routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Gateway")]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Known clients, sorted by name.
    pub consumers: Vec<Consumer>,
    /// The mTLS identity the gateway presents when it forwards into the mesh (`spiffe://…`):
    /// its own `identity`, or derived from the mesh's trust domain; `null` when neither is set.
    #[serde(deserialize_with = "super::bounded::present")]
    pub identity: Option<String>,
    /// Listening sockets, sorted by address.
    pub listeners: Vec<Listener>,
    /// The answer when a request's host and path match some route but its method matches none.
    pub method_mismatch: MethodMismatch,
    /// The gateway's name.
    pub name: String,
    /// How request paths are normalized before matching and forwarding; omitted when it is the
    /// default (merge slashes, refuse escaped slashes), so bundles without it keep their digest.
    #[serde(default, skip_serializing_if = "PathPolicy::is_default")]
    pub path_policy: PathPolicy,
    /// Routes in match order: most specific first (see [`crate::precedence`]).
    #[serde(deserialize_with = "super::shrunk::shrunk")]
    pub routes: Vec<Route>,
    /// Where the gateway was declared (the first declaration when merged).
    pub source: SourceLocation,
    /// W3C trace context and span export (`tracing { … }`); absent when the gateway does not
    /// trace (then `traceparent` passes through untouched), so older bundles keep their digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

/// How a gateway takes part in W3C trace context (`tracing { sample N% }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Tracing")]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    /// The share (0–100) of requests arriving without a `traceparent` whose new trace is
    /// recorded; a request that brings one keeps its sampled flag.
    #[schemars(range(max = 100))]
    #[serde(deserialize_with = "super::bounded::percent")]
    pub sample_percent: u8,
}

/// How a gateway normalizes request paths (see [`crate::matcher::normalize_request_path`]). Dot
/// segments are always removed and unreserved escapes always decoded; these are the choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "PathPolicy")]
#[serde(deny_unknown_fields)]
pub struct PathPolicy {
    /// Merge runs of slashes into one (`//admin` is `/admin`), as nginx does. Default true.
    #[serde(default = "merge_slashes_default")]
    pub merge_slashes: bool,
    /// What to do with `%2F`, `%5C` and `\` in a path. Default `reject`.
    #[serde(default)]
    pub escaped_slashes: EscapedSlashes,
}

fn merge_slashes_default() -> bool {
    true
}

impl Default for PathPolicy {
    fn default() -> Self {
        PathPolicy {
            merge_slashes: true,
            escaped_slashes: EscapedSlashes::Reject,
        }
    }
}

impl PathPolicy {
    /// Whether this is the default policy (and so is left out of the bundle).
    pub fn is_default(&self) -> bool {
        *self == PathPolicy::default()
    }
}

/// What a gateway does with an encoded slash or backslash (`%2F`, `%2f`, `%5C`, `%5c`) or a raw
/// backslash in a request path, which the matcher would see as part of one segment while an
/// upstream that decodes them (or treats `\` as `/`, as Windows servers do) sees a separator.
/// Envoy's `path_with_escaped_slashes_action` makes the same choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EscapedSlashes {
    /// 400 Bad Request (the default).
    #[default]
    Reject,
    /// Match and forward them encoded (`\` becomes `%5C`): for upstreams that keep `%2F` inside
    /// one segment, such as object-store keys.
    Keep,
    /// Decode them to `/` before matching, and forward the decoded path.
    Unescape,
}

/// What a gateway answers when a route would match a request but for its method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MethodMismatch {
    /// 404, as the Kubernetes Gateway API, Envoy and Kong answer: a route whose method differs
    /// does not match.
    #[default]
    NotFound,
    /// 405 Method Not Allowed, with `Allow` listing the methods the path takes (RFC 9110 §15.5.6).
    MethodNotAllowed,
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Listener")]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// `host:port`.
    pub address: String,
    /// TLS settings, or `null` for plain HTTP.
    #[serde(deserialize_with = "super::bounded::present")]
    pub tls: Option<ListenerTls>,
    /// Where the listener was declared.
    pub source: SourceLocation,
}

/// The certificate chain and private key of a TLS listener (PEM files or variables).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "ListenerTls")]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    /// The certificate chain.
    pub cert: SecretRef,
    /// The private key.
    pub key: SecretRef,
}

/// A known client of a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Consumer")]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    /// The consumer's name (`consumer.name` in CEL).
    pub name: String,
    /// Ways the consumer can prove who it is, in source order.
    pub credentials: Vec<Credential>,
    /// Group names, sorted and without duplicates (`consumer.groups` in CEL).
    pub groups: Vec<String>,
    /// Where the consumer was declared.
    pub source: SourceLocation,
}

/// How a consumer proves who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    remote = "Self"
)]
#[schemars(rename = "Credential")]
pub enum Credential {
    /// An API key.
    Key {
        /// The expected key.
        secret: SecretRef,
    },
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        user: String,
        /// The expected password.
        password: SecretRef,
    },
    /// A JWT whose `sub` claim equals `subject`.
    Jwt {
        /// The expected `sub` claim.
        subject: String,
    },
}

super::read_through!(crate::types::tagged::StringTag:Credential);

super::read_through!(crate::types::map_only::MapOnly:
    Gateway,
    Tracing,
    PathPolicy,
    Listener,
    ListenerTls,
    Consumer
);
