//! Routes: what a request must look like, how it is admitted, and where it goes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bundle::{Effect, SecretRef, SourceLocation};

/// One route of a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Route")]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The route's name.
    pub name: String,
    /// What a request must look like.
    #[serde(rename = "match")]
    pub matcher: RouteMatch,
    /// `true` when the route is deliberately unauthenticated.
    pub public: bool,
    /// Admission steps in execution order: auth, access, rate_limit, condition, cors, body_limit, fault, header.
    #[serde(deserialize_with = "super::shrunk::shrunk")]
    pub admission: Vec<AdmissionStep>,
    /// What happens to an admitted request.
    pub action: RouteAction,
    /// Where the route was declared.
    pub source: SourceLocation,
}

/// The request attributes a route matches on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "RouteMatch")]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    /// An upper-case HTTP method, or `null` for any.
    #[serde(deserialize_with = "super::bounded::present")]
    pub method: Option<String>,
    /// The path condition.
    pub path: PathMatch,
    /// The `Host` (without port), `*.` wildcards allowed, or `null` for any.
    #[serde(deserialize_with = "super::bounded::present")]
    pub host: Option<String>,
    /// Headers that must be present with these exact values, in source order.
    pub headers: Vec<NameValue>,
    /// Query parameters that must be present with these exact values, in source order.
    pub query: Vec<NameValue>,
}

impl RouteMatch {
    /// The header conditions that count: the first of each name, compared case-insensitively.
    /// The Gateway API (`HTTPHeaderMatch.Name`): "If multiple entries specify equivalent header
    /// names, only the first entry with an equivalent name MUST be considered for a match.
    /// Subsequent entries with an equivalent header name MUST be ignored."
    pub fn effective_headers(&self) -> impl Iterator<Item = &NameValue> {
        self.headers.iter().enumerate().filter_map(|(i, h)| {
            let earlier = &self.headers[..i];
            (!earlier.iter().any(|e| e.name.eq_ignore_ascii_case(&h.name))).then_some(h)
        })
    }

    /// The query conditions that count: the first of each name, compared exactly
    /// (`HTTPQueryParamMatch.Name`, as for headers but case-sensitive).
    pub fn effective_query(&self) -> impl Iterator<Item = &NameValue> {
        self.query.iter().enumerate().filter_map(|(i, q)| {
            let earlier = &self.query[..i];
            (!earlier.iter().any(|e| e.name == q.name)).then_some(q)
        })
    }
}

/// How the path is matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "PathMatch")]
#[serde(deny_unknown_fields)]
pub struct PathMatch {
    /// The match type.
    pub kind: PathKind,
    /// The path, prefix, template or regular expression as written.
    pub value: String,
    /// For templates, the parameter names in order of appearance; empty otherwise.
    pub params: Vec<String>,
}

/// The path match types (Kubernetes Gateway API `Exact`, `PathPrefix`, `RegularExpression`, plus templates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// The whole path equals `value`.
    Exact,
    /// The path equals `value` where each `{name}` captures exactly one non-empty segment.
    Template,
    /// The path starts with `value`'s whole segments.
    Prefix,
    /// The path matches the regular expression `value`.
    Regex,
}

/// A header or query parameter that must have a given value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "NameValue")]
#[serde(deny_unknown_fields)]
pub struct NameValue {
    /// Header name (matched case-insensitively) or query parameter name.
    pub name: String,
    /// The exact expected value.
    pub value: String,
}

/// One admission check or transform, run in bundle order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "step",
    rename_all = "snake_case",
    deny_unknown_fields,
    remote = "Self"
)]
#[schemars(rename = "AdmissionStep")]
pub enum AdmissionStep {
    /// Authenticate the caller as a consumer (401 when it fails).
    Auth {
        /// The method and its settings.
        method: AuthMethod,
        /// Where the rule was written.
        source: SourceLocation,
    },
    /// Allow or deny by consumer, group or client address (403 when it fails).
    Access {
        /// Whether listed callers are let through or refused.
        effect: Effect,
        /// What `values` lists.
        subject: AccessSubject,
        /// Consumer names, group names, or IP addresses / CIDR blocks.
        values: Vec<String>,
        /// Where the rule was written.
        source: SourceLocation,
    },
    /// A token bucket refilled with `count` tokens per `period_ms` (429 when empty).
    RateLimit {
        /// Requests per period.
        count: u64,
        /// The period in milliseconds.
        period_ms: u64,
        /// What the bucket is kept per.
        per: RateLimitKey,
        /// The bucket size, or `null` for `count`.
        #[serde(deserialize_with = "super::bounded::present")]
        burst: Option<u64>,
        /// `true` when counted cluster-wide (Redis) instead of per process.
        shared: bool,
        /// What a `shared` limit does when Redis cannot answer; absent means `local`.
        #[serde(default, skip_serializing_if = "StoreFailure::is_local")]
        on_store_failure: StoreFailure,
        /// Where the rule was written.
        source: SourceLocation,
    },
    /// A CEL condition that must be true (403 otherwise).
    Condition {
        /// The CEL source as written.
        cel: String,
        /// Where the expression starts.
        source: SourceLocation,
    },
    /// Cross-origin resource sharing: answer preflights and decorate responses.
    Cors {
        /// Allowed origins (`*` for any).
        origins: Vec<String>,
        /// Allowed methods.
        methods: Vec<String>,
        /// Allowed request headers.
        headers: Vec<String>,
        /// Response headers exposed to scripts.
        expose: Vec<String>,
        /// Whether credentials are allowed.
        credentials: bool,
        /// Preflight cache lifetime in milliseconds, or `null` for none.
        #[serde(deserialize_with = "super::bounded::present")]
        max_age_ms: Option<u64>,
        /// Where the rule was written.
        source: SourceLocation,
    },
    /// Refuse request bodies larger than this (413).
    BodyLimit {
        /// The largest accepted body in bytes.
        max_bytes: u64,
        /// Where the rule was written.
        source: SourceLocation,
    },
    /// Injected failure for resilience testing (`fault abort|delay …`): `percent` of the
    /// admitted requests for which `when` holds are aborted with a status or delayed. Runs after
    /// the checks, so refused requests are never faulted.
    Fault {
        /// What the fault does.
        action: FaultAction,
        /// The share of matching requests faulted, 0–100.
        #[schemars(range(max = 100))]
        #[serde(deserialize_with = "super::bounded::percent")]
        percent: u8,
        /// A CEL condition a request must meet to be faulted, or `null` for every request.
        #[serde(deserialize_with = "super::bounded::present")]
        when: Option<String>,
        /// Where the rule was written.
        source: SourceLocation,
    },
    /// Set or remove a header on the upstream request or on the response.
    Header {
        /// Request (sent upstream) or response (sent back).
        direction: HeaderDirection,
        /// The header name.
        name: String,
        /// The value to set, or `null` to remove the header.
        #[serde(deserialize_with = "super::bounded::present")]
        value: Option<String>,
        /// Where the rule was written.
        source: SourceLocation,
    },
}

/// A forward's mirror (`mirror SERVICE …`): copies of a share of the requests go to `service`,
/// whose answers, latency and failures never touch the client's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "RouteMirror")]
#[serde(deny_unknown_fields)]
pub struct RouteMirror {
    /// The service that receives the copies.
    pub service: String,
    /// The share of forwarded requests copied, 0–100.
    #[schemars(range(max = 100))]
    #[serde(deserialize_with = "super::bounded::percent")]
    pub percent: u8,
    /// The largest request body copied; a request with a larger (or undeclared) body is not.
    pub max_body_bytes: u64,
    /// The most copies in flight at once; a copy beyond it is dropped and counted.
    pub queue: u64,
}

/// What an injected fault does to the requests it picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    remote = "Self"
)]
#[schemars(rename = "FaultAction")]
pub enum FaultAction {
    /// Answer with `status` without calling the upstream.
    Abort {
        /// The status sent back, 100–599.
        #[schemars(range(min = 100, max = 599))]
        #[serde(deserialize_with = "super::bounded::http_status")]
        status: u16,
    },
    /// Hold the request for `delay_ms` before it goes on.
    Delay {
        /// The delay in milliseconds.
        delay_ms: u64,
    },
}

/// How a route authenticates its caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    remote = "Self"
)]
#[schemars(rename = "AuthMethod")]
pub enum AuthMethod {
    /// An API key compared with the gateway's consumers' keys.
    Key {
        /// Where the key is read from.
        location: KeyLocation,
        /// The header or query parameter name.
        name: String,
    },
    /// HTTP basic authentication against the consumers' `basic` credentials.
    Basic {
        /// The realm announced in `WWW-Authenticate`, or `null`.
        #[serde(deserialize_with = "super::bounded::present")]
        realm: Option<String>,
    },
    /// A bearer JWT; its `sub` claim names the consumer.
    Jwt {
        /// The required `iss`, or `null`.
        #[serde(deserialize_with = "super::bounded::present")]
        issuer: Option<String>,
        /// The required `aud`, or `null`.
        #[serde(deserialize_with = "super::bounded::present")]
        audience: Option<String>,
        /// The pinned algorithm (`RS256`, `HS256`, …), or `null`.
        #[serde(deserialize_with = "super::bounded::present")]
        alg: Option<String>,
        /// A JWKS document, or `null`.
        #[serde(deserialize_with = "super::bounded::present")]
        keys: Option<SecretRef>,
        /// A shared HMAC secret, or `null`.
        #[serde(deserialize_with = "super::bounded::present")]
        secret: Option<SecretRef>,
    },
}

/// Where an API key is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyLocation {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
}

/// What an access rule lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessSubject {
    /// Consumer names.
    Consumers,
    /// Group names.
    Groups,
    /// Client addresses or CIDR blocks.
    Ips,
}

/// What a rate limit counts per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitKey {
    /// One bucket per authenticated consumer.
    Consumer,
    /// One bucket per client address.
    Ip,
    /// One bucket for the whole route.
    Route,
}

/// What a `shared` rate limit does when Redis cannot decide a request (down, erroring, or
/// slower than the timeout): `fail local|open|closed` in the language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoreFailure {
    /// Count the request in this process instead (each instance limits on its own).
    #[default]
    Local,
    /// Let the request through unlimited.
    Open,
    /// Refuse the request (503): nothing passes that Redis has not counted.
    Closed,
}

impl StoreFailure {
    /// Whether this is the default (`local`), which bundles leave out.
    pub fn is_local(&self) -> bool {
        *self == StoreFailure::Local
    }

    /// The word the language and metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreFailure::Local => "local",
            StoreFailure::Open => "open",
            StoreFailure::Closed => "closed",
        }
    }
}

/// Whether a header rule applies to the upstream request or to the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeaderDirection {
    /// The request sent upstream.
    Request,
    /// The response sent back to the client.
    Response,
}

/// What an admitted request turns into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    remote = "Self"
)]
#[schemars(rename = "RouteAction")]
pub enum RouteAction {
    /// Proxy to one or more services.
    Forward {
        /// Services with traffic-split weights summing to 100.
        targets: Vec<ForwardTarget>,
        /// A path prefix removed before forwarding, or `null`.
        #[serde(deserialize_with = "super::bounded::present")]
        strip_prefix: Option<String>,
        /// A path (template parameters allowed) replacing the request path, or `null`.
        #[serde(deserialize_with = "super::bounded::present")]
        rewrite: Option<String>,
        /// The route's own timeout in milliseconds, or `null` for the service's.
        #[serde(deserialize_with = "super::bounded::present")]
        timeout_ms: Option<u64>,
        /// `true` when the route says its requests may be repeated whatever their method
        /// (`idempotent`): the service's retries then apply to POST and PATCH too. Otherwise a
        /// request with a non-idempotent method is only retried when it never reached the
        /// upstream (a connection failure).
        idempotent: bool,
        /// Fire-and-forget copies to another service, or absent for none (so bundles without
        /// one keep their digest).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mirror: Option<RouteMirror>,
        /// What the route allows of upgraded connections (WebSocket), or absent for the defaults
        /// ([`RouteUpgrades::default`]), so bundles without one keep their digest.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        websocket: Option<RouteUpgrades>,
    },
    /// Write the request to a Kafka topic.
    Produce {
        /// The topic written to.
        topic: ProduceTopic,
        /// A CEL expression for the record key, or `null` for none.
        #[serde(deserialize_with = "super::bounded::present")]
        key: Option<String>,
        /// How the record value is built.
        value: ValueFormat,
        /// Request headers copied onto the record, in source order.
        headers: Vec<String>,
        /// Producer acknowledgements.
        acks: Acks,
        /// When the client is answered.
        mode: ProduceMode,
        /// The route's timeout in milliseconds: how long a sync route waits for the broker's
        /// acknowledgement before answering 503. Omitted when the route sets none (the producer's
        /// delivery timeout applies), so bundles without it keep their digest.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Answer directly.
    Respond {
        /// The HTTP status.
        #[schemars(range(min = 100, max = 599))]
        #[serde(deserialize_with = "super::bounded::http_status")]
        status: u16,
        /// The response body (possibly empty).
        body: String,
        /// The `Content-Type` of the body.
        content_type: String,
    },
    /// Serve a topic's records to HTTP clients as Server-Sent Events, or as long-poll JSON
    /// batches, each from a resumable position (`serve topic "T" …`).
    Serve {
        /// The topic read.
        topic: String,
        /// A CEL condition over `event.*`: records for which it is false are skipped, or `null`.
        #[serde(deserialize_with = "super::bounded::present")]
        when: Option<String>,
        /// Events queued for one client before it counts as too slow and is disconnected.
        #[schemars(range(min = 1))]
        #[serde(deserialize_with = "super::bounded::positive")]
        buffer: u64,
        /// Bytes queued for one client before it counts as too slow and is disconnected.
        #[schemars(range(min = 1))]
        #[serde(deserialize_with = "super::bounded::positive")]
        buffer_bytes: u64,
        /// Clients served at once by this route (in each meshd); more get 503.
        #[schemars(range(min = 1))]
        #[serde(deserialize_with = "super::bounded::positive")]
        clients: u64,
        /// Milliseconds of silence after which a comment line keeps the stream alive.
        #[schemars(range(min = 1))]
        #[serde(deserialize_with = "super::bounded::positive")]
        keepalive_ms: u64,
    },
}

/// One service of a forward with its share of traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "ForwardTarget")]
#[serde(deny_unknown_fields)]
pub struct ForwardTarget {
    /// The service's name.
    pub service: String,
    /// Percentage of requests, 0–100.
    #[schemars(range(max = 100))]
    #[serde(deserialize_with = "super::bounded::percent")]
    pub weight: u8,
}

/// The topic a produce writes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    remote = "Self"
)]
#[schemars(rename = "ProduceTopic")]
pub enum ProduceTopic {
    /// Always the same topic.
    Fixed {
        /// The topic name.
        name: String,
    },
    /// The topic named by a path parameter.
    Param {
        /// The path parameter.
        param: String,
        /// The topics the parameter may name, or `null` for any.
        #[serde(deserialize_with = "super::bounded::present")]
        allow: Option<Vec<String>>,
    },
}

/// How a produced record's value is built from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueFormat {
    /// The request body as is.
    Raw,
    /// `{method, path, headers, query, body}` as JSON.
    Envelope,
}

/// Kafka producer acknowledgements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Acks {
    /// `"0"`: do not wait.
    #[serde(rename = "0")]
    None,
    /// `"1"`: the partition leader.
    #[serde(rename = "1")]
    Leader,
    /// `"all"`: every in-sync replica.
    #[serde(rename = "all")]
    All,
}

/// When the client of a produce route is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProduceMode {
    /// After the delivery report (200 with topic, partition, offset).
    Sync,
    /// Once queued (202).
    Async,
}

super::read_through!(crate::types::tagged::StringTag:FaultAction, AuthMethod, RouteAction, ProduceTopic);

impl<'de> Deserialize<'de> for AdmissionStep {
    /// In one pass, without serde's buffer for tagged enums (see `admission_step_reader`).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::admission_step_reader::read_admission_step(deserializer)
    }
}

impl Serialize for AdmissionStep {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        AdmissionStep::serialize(self, serializer)
    }
}

/// A route's rules for upgraded connections (WebSocket and other HTTP/1.1 upgrades):
/// `websocket { max 1000  idle 5m }` or `websocket off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "RouteUpgrades")]
#[serde(deny_unknown_fields)]
pub struct RouteUpgrades {
    /// Whether upgrade requests are forwarded; `false` answers them 403 before any upstream
    /// sees them.
    pub allowed: bool,
    /// The most upgraded connections open at once on the route, per meshd process; the next one
    /// gets 503 before it is forwarded.
    pub max: u32,
    /// An upgraded connection with no byte either way for this many milliseconds is closed.
    pub idle_ms: u64,
}

impl RouteUpgrades {
    /// The cap when a route states none.
    pub const DEFAULT_MAX: u32 = 10_000;
    /// The idle timeout when a route states none: 5 minutes (Envoy's stream idle timeout).
    pub const DEFAULT_IDLE_MS: u64 = 300_000;
}

impl Default for RouteUpgrades {
    /// Upgrades allowed, at most 10 000 open per route, closed after 5 minutes of silence.
    fn default() -> Self {
        RouteUpgrades {
            allowed: true,
            max: Self::DEFAULT_MAX,
            idle_ms: Self::DEFAULT_IDLE_MS,
        }
    }
}

super::read_through!(crate::types::map_only::MapOnly:
    Route,
    RouteMatch,
    PathMatch,
    NameValue,
    RouteMirror,
    ForwardTarget,
    RouteUpgrades
);
