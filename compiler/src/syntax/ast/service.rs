//! `service` blocks: endpoints, balancing, retries, circuit breaking, health checks.

use super::*;

/// `service NAME { statements }`: an upstream reachable through the mesh.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: Ident,
    pub statements: Vec<ServiceStatement>,
    pub span: Span,
}

/// One line of a service.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceStatement {
    /// `endpoints ["host:port", …]`.
    Endpoints(Spanned<Vec<Spanned<String>>>),
    Balance(Spanned<Balance>),
    Timeout(Spanned<Duration>),
    Retry(Retry),
    CircuitBreaker(CircuitBreaker),
    HealthCheck(HealthCheck),
    /// `identity "spiffe://…"`: the mTLS identity the service presents.
    Identity(Spanned<String>),
    /// `protocol http1 | h2c | h2 | tcp`: how meshd speaks to the service's endpoints.
    Protocol(Spanned<Protocol>),
}

/// The protocol a service's endpoints speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 (the default).
    Http1,
    /// HTTP/2 over plaintext with prior knowledge (gRPC servers without TLS).
    H2c,
    /// HTTP/2 over TLS, chosen by ALPN.
    H2,
    /// Plain TCP, carried by the mesh's sidecars inside mutual TLS.
    Tcp,
}

impl ServiceStatement {
    /// The span of the statement.
    pub fn span(&self) -> Span {
        match self {
            ServiceStatement::Endpoints(e) => e.span,
            ServiceStatement::Balance(b) => b.span,
            ServiceStatement::Timeout(t) => t.span,
            ServiceStatement::Retry(r) => r.span,
            ServiceStatement::CircuitBreaker(c) => c.span,
            ServiceStatement::HealthCheck(h) => h.span,
            ServiceStatement::Identity(i) => i.span,
            ServiceStatement::Protocol(p) => p.span,
        }
    }
}

/// The load-balancing policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Balance {
    RoundRobin,
    Random,
    LeastRequest,
    /// `hash(CEL)`: consistent hashing on the expression's value.
    Hash(Cel),
}

/// `retry N [on [conditions]] [backoff MIN..MAX]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub attempts: Spanned<u64>,
    pub on: Vec<Spanned<RetryOn>>,
    pub backoff: Option<Backoff>,
    pub budget: Option<RetryBudget>,
    pub span: Span,
}

/// `budget P% [min RATE] [window D]` on a retry line (Linkerd's retry budget): over the window,
/// retries may add at most P% to the requests, plus `min` retries per period whatever the traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudget {
    pub percent: Spanned<Percent>,
    pub min: Option<Spanned<Rate>>,
    pub window: Option<Spanned<Duration>>,
    pub span: Span,
}

/// What a retry fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOn {
    ConnectFailure,
    Reset,
    Timeout,
    Status(u16),
    /// `grpc NAME`: a gRPC status (its numeric code) in the response's headers or trailers-only
    /// answer.
    Grpc(u8),
}

/// `MIN..MAX` exponential backoff bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    pub min: Spanned<Duration>,
    pub max: Spanned<Duration>,
}

/// `circuit_breaker { consecutive_errors N eject DURATION max_ejected PERCENT }`.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreaker {
    pub consecutive_errors: Option<Spanned<u64>>,
    pub eject: Option<Spanned<Duration>>,
    pub max_ejected: Option<Spanned<Percent>>,
    /// `failure_percentage P% [min_requests N]`: eject an endpoint failing P% or more of its
    /// requests over an interval (Envoy's failure-percentage detector).
    pub failure_percentage: Option<(Spanned<Percent>, Option<Spanned<u64>>)>,
    /// `success_rate [min_requests N]`: eject an endpoint whose success rate falls well below
    /// its peers' (Envoy's success-rate detector).
    pub success_rate: Option<(Span, Option<Spanned<u64>>)>,
    /// `latency FACTORx [min_requests N] [min_latency D]`: eject an endpoint whose mean latency
    /// over an interval is more than FACTOR times its peers' median.
    pub latency: Option<LatencyDetector>,
    /// `interval D`: how often the detectors above judge the endpoints.
    pub interval: Option<Spanned<Duration>>,
    /// `max_requests N`: at most N requests in flight to the service from one meshd (Envoy's
    /// `max_requests` threshold); more are answered 503 at once.
    pub max_requests: Option<Spanned<u64>>,
    pub span: Span,
}

impl CircuitBreaker {
    /// Whether the block writes `max_requests` and nothing about ejection (which then keeps its
    /// defaults).
    pub fn limits_requests_only(&self) -> bool {
        self.max_requests.is_some()
            && self.consecutive_errors.is_none()
            && self.eject.is_none()
            && self.max_ejected.is_none()
            && self.failure_percentage.is_none()
            && self.success_rate.is_none()
            && self.latency.is_none()
            && self.interval.is_none()
    }
}

/// `latency FACTORx [min_requests N] [min_latency D]` in a `circuit_breaker`.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyDetector {
    /// The factor in percent (`3x` is 300, `1.5x` 150).
    pub factor_percent: Spanned<u32>,
    pub min_requests: Option<Spanned<u64>>,
    pub min_latency: Option<Spanned<Duration>>,
    pub span: Span,
}

/// `health_check [METHOD] "PATH" every DURATION [timeout DURATION] [healthy N] [unhealthy N]`,
/// or `health_check grpc "SERVICE" every …`: the gRPC health checking protocol
/// (`grpc.health.v1.Health/Check`), asking about `SERVICE` (`""`: the server as a whole).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub method: Option<Spanned<String>>,
    /// The `grpc` keyword, when the check uses the gRPC health checking protocol.
    pub grpc: Option<Span>,
    /// The path requested, or with `grpc` the gRPC service asked about.
    pub path: Spanned<String>,
    pub every: Spanned<Duration>,
    pub timeout: Option<Spanned<Duration>>,
    pub healthy: Option<Spanned<u64>>,
    pub unhealthy: Option<Spanned<u64>>,
    pub span: Span,
}
