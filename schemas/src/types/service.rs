//! Services: upstreams with their balancing and resilience settings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bundle::SourceLocation;

/// An upstream reachable through the mesh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Service")]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The service's name.
    pub name: String,
    /// `host:port` endpoints in source order.
    pub endpoints: Vec<String>,
    /// How an endpoint is chosen.
    pub balance: Balance,
    /// The per-attempt timeout in milliseconds.
    pub timeout_ms: u64,
    /// Retries, or `null` for none.
    #[serde(deserialize_with = "super::bounded::present")]
    pub retry: Option<Retry>,
    /// Outlier ejection, or `null` for none.
    #[serde(deserialize_with = "super::bounded::present")]
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Active health checking, or `null` for none.
    #[serde(deserialize_with = "super::bounded::present")]
    pub health_check: Option<HealthCheck>,
    /// The mTLS identity the service presents (`spiffe://…`): its own `identity`, or derived
    /// from the mesh's trust domain; `null` when neither is set.
    #[serde(deserialize_with = "super::bounded::present")]
    pub identity: Option<String>,
    /// How meshd speaks to the endpoints; absent means HTTP/1.1 (bundles without it keep their
    /// digest).
    #[serde(default, skip_serializing_if = "Protocol::is_http1")]
    pub protocol: Protocol,
    /// Where the service was declared (the first declaration when merged).
    pub source: SourceLocation,
}

/// The protocol of a service's endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// HTTP/1.1.
    #[default]
    Http1,
    /// HTTP/2 with prior knowledge over plaintext (h2c); inside the mesh, HTTP/2 in mutual TLS.
    H2c,
    /// HTTP/2 over TLS, offered by ALPN (`h2`); inside the mesh, HTTP/2 in mutual TLS.
    H2,
    /// Plain TCP, carried by the mesh only: a byte stream between the caller's sidecar and the
    /// service's, inside mutual TLS, allowed or refused by the caller's identity.
    Tcp,
}

impl Protocol {
    /// Whether it is HTTP/1.1, the default.
    pub fn is_http1(&self) -> bool {
        *self == Protocol::Http1
    }

    /// Whether it is one of the HTTP/2 forms.
    pub fn is_http2(&self) -> bool {
        matches!(self, Protocol::H2c | Protocol::H2)
    }

    /// Whether it is plain TCP (no HTTP at all).
    pub fn is_tcp(&self) -> bool {
        *self == Protocol::Tcp
    }
}

/// The load-balancing policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Balance {
    /// Each endpoint in turn.
    RoundRobin,
    /// A uniformly random endpoint.
    Random,
    /// The endpoint with the fewest requests in flight (power of two choices).
    LeastRequest,
    /// Consistent hashing on the value of a CEL expression.
    Hash {
        /// The CEL source as written.
        cel: String,
    },
}

/// [`Balance`] as it is read: serde ignores unknown fields beside the tag of a unit variant, so
/// the unit policies are read as empty structs, which refuse them as the schema does (and through
/// [`super::tagged::StringTag`], which refuses a non-string tag).
#[derive(Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    expecting = "internally tagged enum Balance"
)]
enum BalanceOnTheWire {
    RoundRobin {},
    Random {},
    LeastRequest {},
    Hash { cel: String },
}

impl<'de> Deserialize<'de> for Balance {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let deserializer = super::tagged::StringTag(deserializer);
        Ok(match BalanceOnTheWire::deserialize(deserializer)? {
            BalanceOnTheWire::RoundRobin {} => Balance::RoundRobin,
            BalanceOnTheWire::Random {} => Balance::Random,
            BalanceOnTheWire::LeastRequest {} => Balance::LeastRequest,
            BalanceOnTheWire::Hash { cel } => Balance::Hash { cel },
        })
    }
}

/// When and how often a failed attempt is retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Retry")]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Retries after the first attempt.
    pub attempts: u64,
    /// What a retry fires on.
    pub on: Vec<RetryOn>,
    /// The first backoff in milliseconds (doubled up to the maximum, with jitter).
    pub backoff_min_ms: u64,
    /// The largest backoff in milliseconds.
    pub backoff_max_ms: u64,
    /// A retry budget beside the count (Linkerd's model), or absent for none: bundles without
    /// one keep their digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<RetryBudget>,
}

/// Retries across requests: over `window_ms`, retries may number at most `percent`% of the
/// requests plus `min_retries` per `min_period_ms` (a reserve for low traffic), so an outage
/// multiplies the load by at most 1 + `percent`/100 instead of by the retry count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "RetryBudget")]
#[serde(deny_unknown_fields)]
pub struct RetryBudget {
    /// Retries allowed per 100 requests, 0–100.
    #[schemars(range(max = 100))]
    #[serde(deserialize_with = "super::bounded::percent")]
    pub percent: u8,
    /// Retries always allowed per `min_period_ms`, whatever the traffic.
    pub min_retries: u64,
    /// The period of `min_retries` in milliseconds.
    #[schemars(range(min = 1))]
    #[serde(deserialize_with = "super::bounded::positive_ms")]
    pub min_period_ms: u64,
    /// How long requests and retries are remembered, in milliseconds.
    #[schemars(range(min = 1))]
    #[serde(deserialize_with = "super::bounded::positive_ms")]
    pub window_ms: u64,
}

/// A failure that triggers a retry: a named condition or an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RetryOn {
    /// A transport-level failure.
    Condition(RetryCondition),
    /// An upstream response status.
    Status(
        #[schemars(range(min = 100, max = 599))]
        #[serde(deserialize_with = "super::bounded::http_status")]
        u16,
    ),
    /// A gRPC status in the response (`grpc-status` of a trailers-only answer).
    Grpc(GrpcRetry),
}

/// A gRPC status that triggers a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "GrpcRetry")]
#[serde(deny_unknown_fields)]
pub struct GrpcRetry {
    /// The numeric gRPC status code (14 is UNAVAILABLE).
    #[schemars(range(max = 16))]
    #[serde(deserialize_with = "super::bounded::grpc_code")]
    pub grpc: u8,
}

/// Transport-level failures a retry can fire on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryCondition {
    /// The connection could not be made.
    ConnectFailure,
    /// The connection was reset before a response.
    Reset,
    /// The attempt timed out.
    Timeout,
}

/// Passive outlier detection: eject an endpoint after consecutive errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "CircuitBreaker")]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    /// Consecutive errors (5xx or connect failures) that eject an endpoint.
    pub consecutive_errors: u64,
    /// How long an ejected endpoint stays out, in milliseconds.
    pub eject_ms: u64,
    /// At most this percentage of endpoints is ejected at once.
    #[schemars(range(max = 100))]
    #[serde(deserialize_with = "super::bounded::percent")]
    pub max_ejected_percent: u8,
    /// Envoy's failure-percentage detector, or absent (bundles without it keep their digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_percentage: Option<FailurePercentage>,
    /// Envoy's success-rate detector, or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<SuccessRate>,
    /// The latency detector (an endpoint much slower than its peers), or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyOutlier>,
    /// How often the interval detectors judge the endpoints, in milliseconds; absent without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
    /// At most this many requests in flight to the service from one meshd; more are answered
    /// 503 at once (Envoy's `max_requests` threshold). Absent: no limit.
    #[schemars(range(min = 1))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::bounded::optional_positive"
    )]
    pub max_requests: Option<u32>,
}

/// Eject an endpoint that failed `percent`% or more of at least `min_requests` requests over an
/// interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "FailurePercentage")]
#[serde(deny_unknown_fields)]
pub struct FailurePercentage {
    /// The failure share that ejects, 0–100.
    #[schemars(range(max = 100))]
    #[serde(deserialize_with = "super::bounded::percent")]
    pub percent: u8,
    /// Requests an endpoint needs in the interval to be judged.
    pub min_requests: u64,
}

/// Eject an endpoint whose success rate over an interval is below the mean of its peers' by more
/// than 1.9 standard deviations (Envoy's default factor), when at least five endpoints had
/// `min_requests` requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "SuccessRate")]
#[serde(deny_unknown_fields)]
pub struct SuccessRate {
    /// Requests an endpoint needs in the interval to be judged.
    pub min_requests: u64,
}

/// Eject an endpoint whose mean latency (to the response head) over an interval is more than
/// `factor_percent`/100 times the median of its peers' means, when it and at least one peer
/// served `min_requests` answered requests, and its mean is at least `min_latency_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "LatencyOutlier")]
#[serde(deny_unknown_fields)]
pub struct LatencyOutlier {
    /// The factor in percent: 300 ejects an endpoint three times slower than its peers' median.
    pub factor_percent: u32,
    /// Answered requests an endpoint (and a peer) needs in the interval to be judged.
    pub min_requests: u64,
    /// A mean below this never ejects, however it compares (noise between fast endpoints).
    pub min_latency_ms: u64,
}

/// What a health check with `grpc_service` requests: the gRPC health checking protocol's `Check`.
pub const GRPC_HEALTH_CHECK_PATH: &str = "/grpc.health.v1.Health/Check";

/// Active health checking of every endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "HealthCheck")]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// The HTTP method.
    pub method: String,
    /// The path requested.
    pub path: String,
    /// Interval between checks in milliseconds.
    pub interval_ms: u64,
    /// Timeout of one check in milliseconds.
    pub timeout_ms: u64,
    /// Consecutive successes that mark an endpoint healthy.
    pub healthy_threshold: u64,
    /// Consecutive failures that mark an endpoint unhealthy.
    pub unhealthy_threshold: u64,
    /// The gRPC health checking protocol: `method` and `path` are then `POST` and
    /// `/grpc.health.v1.Health/Check`, the request asks about this service (`""`: the server as a
    /// whole), and only an answer of `SERVING` with `grpc-status` 0 is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_service: Option<String>,
}

super::read_through!(crate::types::map_only::MapOnly:
    Service,
    Retry,
    RetryBudget,
    GrpcRetry,
    CircuitBreaker,
    FailurePercentage,
    SuccessRate,
    LatencyOutlier,
    HealthCheck
);
