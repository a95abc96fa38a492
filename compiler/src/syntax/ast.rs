//! The syntax tree of a `.mesh` file. Every node carries the [`Span`] it was parsed from, so
//! later stages can point at the exact text they complain about.
//!
//! The tree is close to the source (the formatter prints it back); meaning is given later, in
//! `resolve/` and `emit/`.

use crate::source::{Span, Spanned};

/// A name: a gateway, route, consumer, group, service or stream identifier.
pub type Ident = Spanned<String>;

/// One parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
    /// Every comment of the file in source order, kept for the formatter.
    pub comments: Vec<Comment>,
}

/// A `# …` line comment or a `/* … */` block comment, with its text including the markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Include(Include),
    Gateway(Gateway),
    Service(Service),
    Mesh(Mesh),
    Stream(Stream),
    Topic(Topic),
}

impl Item {
    /// The span of the whole item.
    pub fn span(&self) -> Span {
        match self {
            Item::Include(i) => i.span,
            Item::Gateway(g) => g.span,
            Item::Service(s) => s.span,
            Item::Mesh(m) => m.span,
            Item::Stream(s) => s.span,
            Item::Topic(t) => t.span,
        }
    }
}

/// `include "other.mesh"`: compile another file as part of this program.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    pub path: Spanned<String>,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// Literals
// ---------------------------------------------------------------------------------------------

/// A duration in milliseconds (`250ms`, `2s`, `5m`, `1h`, `1d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    pub millis: u64,
}

/// A rate: `count` events per `period_ms` (`100/min`, `5/s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u64,
    pub period: RatePeriod,
}

/// The period of a [`Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatePeriod {
    Second,
    Minute,
    Hour,
    Day,
}

impl RatePeriod {
    /// The period in milliseconds.
    pub fn millis(self) -> u64 {
        match self {
            RatePeriod::Second => 1_000,
            RatePeriod::Minute => 60_000,
            RatePeriod::Hour => 3_600_000,
            RatePeriod::Day => 86_400_000,
        }
    }

    /// The unit as written (`s`, `min`, `h`, `d`).
    pub fn unit(self) -> &'static str {
        match self {
            RatePeriod::Second => "s",
            RatePeriod::Minute => "min",
            RatePeriod::Hour => "h",
            RatePeriod::Day => "d",
        }
    }
}

/// A size in bytes (`1MiB`, `512KB`, `100B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub bytes: u64,
}

/// A percentage, 0–100 (`50%`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percent {
    pub value: u8,
}

/// Where a secret comes from. Inline literals are parsed so the checker can refuse them with a
/// pointed diagnostic rather than a syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `env("NAME")`: an environment variable read by the runtime at load.
    Env(String),
    /// `file("path")`: a file read by the runtime at load.
    File(String),
    /// `"literal"`: an inline secret, an error (secrets never enter the bundle).
    Inline(String),
}

/// A secret reference with its span.
pub type Secret = Spanned<SecretSource>;

/// An embedded CEL expression: its source text exactly as written and the span of that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cel {
    pub source: String,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------------

/// `gateway NAME { … }`: a set of listeners admitting outside clients through routes.
#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    pub name: Ident,
    pub listeners: Vec<Listener>,
    pub consumers: Vec<Consumer>,
    pub routes: Vec<Route>,
    /// `merge_slashes …` and `escaped_slashes …` lines, in source order.
    pub path_settings: Vec<Spanned<PathSetting>>,
    /// `method_mismatch 404|405`: the answer when a path matches but no route takes the method
    /// (404 when not written, as in the Gateway API). The span covers the whole statement.
    pub method_mismatch: Option<Spanned<u16>>,
    /// `identity "spiffe://…"`: the mTLS identity the gateway presents when it forwards into the
    /// mesh (derived from the mesh's `trust_domain` when absent).
    pub identity: Option<Spanned<String>>,
    pub span: Span,
}

/// How a gateway normalizes request paths (the defaults hold when no line says otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSetting {
    /// `merge_slashes on|off`.
    MergeSlashes(bool),
    /// `escaped_slashes reject|keep|unescape`.
    EscapedSlashes(EscapedSlashes),
}

/// What a gateway does with `%2F`, `%5C` and `\` in a request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscapedSlashes {
    Reject,
    Keep,
    Unescape,
}

impl PathSetting {
    /// The statement's keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            PathSetting::MergeSlashes(_) => "merge_slashes",
            PathSetting::EscapedSlashes(_) => "escaped_slashes",
        }
    }

    /// The statement's value as written canonically.
    pub fn value(&self) -> &'static str {
        match self {
            PathSetting::MergeSlashes(true) => "on",
            PathSetting::MergeSlashes(false) => "off",
            PathSetting::EscapedSlashes(EscapedSlashes::Reject) => "reject",
            PathSetting::EscapedSlashes(EscapedSlashes::Keep) => "keep",
            PathSetting::EscapedSlashes(EscapedSlashes::Unescape) => "unescape",
        }
    }
}

/// `listen "ADDR" [tls cert SECRET key SECRET]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    pub address: Spanned<String>,
    pub tls: Option<ListenerTls>,
    pub span: Span,
}

/// The certificate and key of a TLS listener.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerTls {
    pub cert: Secret,
    pub key: Secret,
}

/// `consumer NAME { credential… groups [..] }`: a known client of a gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub name: Ident,
    pub credentials: Vec<Credential>,
    pub groups: Vec<Ident>,
    pub span: Span,
}

/// How a consumer proves who it is.
#[derive(Debug, Clone, PartialEq)]
pub enum CredentialKind {
    /// `key SECRET`: an API key.
    Key(Secret),
    /// `basic user "NAME" password SECRET`.
    Basic {
        user: Spanned<String>,
        password: Secret,
    },
    /// `jwt subject "SUB"`: a JWT whose `sub` claim equals this.
    Jwt { subject: Spanned<String> },
}

/// A credential with its span.
pub type Credential = Spanned<CredentialKind>;

/// `route NAME { statements }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub name: Ident,
    pub statements: Vec<RouteStatement>,
    pub span: Span,
}

/// One line of a route, in source order (admission runs in a fixed order chosen by the compiler).
///
/// The larger statements are boxed, so a statement is 48 bytes rather than 232: the parser moves
/// each statement several times and every check scans a route's statements. On 100 000 routes
/// this made parsing a quarter faster and the tree a quarter smaller (BENCHMARKS.md).
#[derive(Debug, Clone, PartialEq)]
pub enum RouteStatement {
    Match(Box<Match>),
    Auth(Box<Auth>),
    /// `public`: no authentication on purpose.
    Public(Span),
    /// `idempotent`: the route's requests may be repeated whatever their method (the upstream
    /// deduplicates them), so the service's retries apply to POST and PATCH too.
    Idempotent(Span),
    Access(AccessRule),
    RateLimit(Box<RateLimit>),
    When(Cel),
    Header(Box<HeaderRule>),
    Cors(Box<Cors>),
    BodyLimit(Spanned<Size>),
    Timeout(Spanned<Duration>),
    /// `fault abort|delay …`: injected failures for resilience testing.
    Fault(Box<Fault>),
    /// `mirror SERVICE [P%] [max_body SIZE] [queue N]`: fire-and-forget copies.
    Mirror(Box<Mirror>),
    Forward(Box<Forward>),
    Produce(Box<Produce>),
    Respond(Box<Respond>),
}

impl RouteStatement {
    /// The span of the statement.
    pub fn span(&self) -> Span {
        match self {
            RouteStatement::Match(m) => m.span,
            RouteStatement::Auth(a) => a.span,
            RouteStatement::Public(s) => *s,
            RouteStatement::Idempotent(s) => *s,
            RouteStatement::Access(a) => a.span,
            RouteStatement::RateLimit(r) => r.span,
            RouteStatement::When(c) => c.span,
            RouteStatement::Header(h) => h.span,
            RouteStatement::Cors(c) => c.span,
            RouteStatement::BodyLimit(b) => b.span,
            RouteStatement::Timeout(t) => t.span,
            RouteStatement::Fault(f) => f.span,
            RouteStatement::Mirror(m) => m.span,
            RouteStatement::Forward(f) => f.span,
            RouteStatement::Produce(p) => p.span,
            RouteStatement::Respond(r) => r.span,
        }
    }
}

/// `match [METHOD] PATH [host "H"] [header "K" "V"]… [query "K" "V"]…`.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// `None` matches any method.
    pub method: Option<Spanned<String>>,
    pub path: PathMatch,
    pub host: Option<Spanned<String>>,
    pub headers: Vec<KeyValueMatch>,
    pub query: Vec<KeyValueMatch>,
    pub span: Span,
}

/// How the path is matched.
#[derive(Debug, Clone, PartialEq)]
pub struct PathMatch {
    pub kind: PathKind,
    pub value: Spanned<String>,
}

/// The path match type (Kubernetes Gateway API: Exact, PathPrefix, RegularExpression).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// `"/officers/{id}"`: the whole path; `{name}` captures one segment.
    Exact,
    /// `prefix "/api"`: the path starts with these whole segments.
    Prefix,
    /// `regex "^/v[0-9]+/"`.
    Regex,
}

/// `header "K" "V"` or `query "K" "V"` inside a match.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValueMatch {
    pub name: Spanned<String>,
    pub value: Spanned<String>,
    pub span: Span,
}

/// `auth …`: how a route authenticates.
#[derive(Debug, Clone, PartialEq)]
pub struct Auth {
    pub kind: AuthKind,
    pub span: Span,
}

/// The authentication methods.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthKind {
    /// `auth key header "x-api-key"` or `auth key query "apikey"`.
    Key {
        location: KeyLocation,
        name: Spanned<String>,
    },
    /// `auth basic [realm "R"]`.
    Basic { realm: Option<Spanned<String>> },
    /// `auth jwt [issuer "I"] [audience "A"] [alg ALG] (keys SECRET | secret SECRET)`.
    Jwt(JwtAuth),
}

/// Where an API key is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLocation {
    Header,
    Query,
}

/// JWT validation settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JwtAuth {
    pub issuer: Option<Spanned<String>>,
    pub audience: Option<Spanned<String>>,
    /// The pinned algorithm, as written (`RS256`, `ES256`, `HS256`, …).
    pub alg: Option<Spanned<String>>,
    /// A JWKS document (`keys file("jwks.json")`).
    pub keys: Option<Secret>,
    /// A shared HMAC secret (`secret env("JWT_SECRET")`).
    pub secret: Option<Secret>,
}

/// `allow|deny consumers|groups|ips [..]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRule {
    pub effect: Effect,
    pub subject: AccessSubject,
    pub values: Vec<Spanned<String>>,
    pub span: Span,
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// What an access rule lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessSubject {
    Consumers,
    Groups,
    /// CIDR blocks or single addresses, as strings.
    Ips,
}

/// `rate_limit RATE [per consumer|ip|route] [burst N] [shared [fail local|open|closed]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub rate: Spanned<Rate>,
    pub key: RateLimitKey,
    pub burst: Option<Spanned<u64>>,
    /// `shared`: counted cluster-wide through Redis instead of per process.
    pub shared: bool,
    /// `fail …` after `shared`: what the limit does when Redis cannot answer.
    pub fail: Option<StoreFailure>,
    pub span: Span,
}

/// What a shared limit does when Redis cannot decide: `fail local|open|closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    Local,
    Open,
    Closed,
}

/// What a rate limit counts per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitKey {
    Consumer,
    Ip,
    Route,
}

/// `set_header`, `remove_header`, `set_response_header`, `remove_response_header`.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderRule {
    pub direction: HeaderDirection,
    pub name: Spanned<String>,
    /// `Some` for set, `None` for remove.
    pub value: Option<Spanned<String>>,
    pub span: Span,
}

/// Whether a header rule applies to the request sent upstream or the response sent back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderDirection {
    Request,
    Response,
}

/// `cors { origins [..] methods [..] headers [..] expose [..] credentials max_age DURATION }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cors {
    pub origins: Vec<Spanned<String>>,
    pub methods: Vec<Spanned<String>>,
    pub headers: Vec<Spanned<String>>,
    pub expose: Vec<Spanned<String>>,
    pub credentials: bool,
    pub max_age: Option<Spanned<Duration>>,
    pub span: Span,
}

/// `fault abort PERCENT STATUS [when CEL]` or `fault delay PERCENT DURATION [when CEL]`: a
/// share of the route's admitted requests is answered with `STATUS` without reaching the
/// upstream, or held for `DURATION` before it goes on (Istio's `fault`, Kuma's
/// MeshFaultInjection).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    pub percent: Spanned<Percent>,
    pub when: Option<Cel>,
    pub span: Span,
}

/// `mirror SERVICE [P%] [max_body SIZE] [queue N]`: a share of the forwarded requests is copied to
/// another service whose answer is thrown away (Istio's `mirror`, Envoy's request mirroring).
#[derive(Debug, Clone, PartialEq)]
pub struct Mirror {
    pub service: Ident,
    pub percent: Option<Spanned<Percent>>,
    pub max_body: Option<Spanned<Size>>,
    pub queue: Option<Spanned<u64>>,
    pub span: Span,
}

/// What a fault does to the requests it picks.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Answer with this status, never reaching the upstream.
    Abort(Spanned<u16>),
    /// Hold the request this long before it goes on.
    Delay(Spanned<Duration>),
}

impl FaultKind {
    /// `abort` or `delay`, as written.
    pub fn keyword(&self) -> &'static str {
        match self {
            FaultKind::Abort(_) => "abort",
            FaultKind::Delay(_) => "delay",
        }
    }
}

/// `forward TARGET [WEIGHT%], … [strip_prefix "P"] [rewrite "P"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    pub targets: Vec<ForwardTarget>,
    pub strip_prefix: Option<Spanned<String>>,
    pub rewrite: Option<Spanned<String>>,
    pub span: Span,
}

/// One service of a forward, with its traffic-split weight when there are several.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardTarget {
    pub service: Ident,
    pub weight: Option<Spanned<Percent>>,
}

/// `produce topic TOPIC [key CEL] [value raw|envelope] [headers [..]] [acks 0|1|all] [mode sync|async]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Produce {
    pub topic: TopicRef,
    pub key: Option<Cel>,
    pub value: Option<Spanned<ValueFormat>>,
    pub headers: Vec<Spanned<String>>,
    pub acks: Option<Spanned<Acks>>,
    pub mode: Option<Spanned<ProduceMode>>,
    pub span: Span,
}

/// The topic a produce writes to.
#[derive(Debug, Clone, PartialEq)]
pub enum TopicRef {
    /// `topic "captains-log"`.
    Fixed(Spanned<String>),
    /// `topic param "ship" [allow ["a", "b"]]`: taken from a path parameter.
    Param {
        param: Spanned<String>,
        allow: Option<Vec<Spanned<String>>>,
    },
}

/// How a produced record's value is built from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// The request body as is.
    Raw,
    /// `{method, path, headers, query, body}` as JSON.
    Envelope,
}

/// Kafka producer acknowledgements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    None,
    Leader,
    All,
}

/// Answer after the delivery report (`sync`, 200) or once queued (`async`, 202).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProduceMode {
    Sync,
    Async,
}

/// `respond STATUS ["BODY"] [content_type "T"]`: the gateway answers itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Respond {
    pub status: Spanned<u16>,
    pub body: Option<Spanned<String>>,
    pub content_type: Option<Spanned<String>>,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------

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
    /// `interval D`: how often the two detectors above judge the endpoints.
    pub interval: Option<Spanned<Duration>>,
    pub span: Span,
}

/// `health_check [METHOD] "PATH" every DURATION [timeout DURATION] [healthy N] [unhealthy N]`.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub method: Option<Spanned<String>>,
    pub path: Spanned<String>,
    pub every: Spanned<Duration>,
    pub timeout: Option<Spanned<Duration>>,
    pub healthy: Option<Spanned<u64>>,
    pub unhealthy: Option<Spanned<u64>>,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// Mesh
// ---------------------------------------------------------------------------------------------

/// `mesh { default allow|deny  (allow|deny) SOURCE -> TARGETS [when CEL] … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    pub statements: Vec<MeshStatement>,
    pub span: Span,
}

/// One line of the mesh block.
#[derive(Debug, Clone, PartialEq)]
pub enum MeshStatement {
    Default(Spanned<Effect>),
    Rule(MeshRule),
    /// `mtls strict|permissive`.
    Mtls(Spanned<MtlsMode>),
    /// `trust_domain "starfleet"`: the SPIFFE trust domain identities are derived in.
    TrustDomain {
        /// The domain as written.
        domain: Spanned<String>,
        /// The whole statement.
        span: Span,
    },
}

/// A service-to-service permission.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshRule {
    pub effect: Effect,
    /// A gateway or service name, or `*`.
    pub source: Ident,
    /// Service names, or `*`.
    pub targets: Vec<Ident>,
    pub when: Option<Cel>,
    pub span: Span,
}

/// Whether mesh traffic must use mutual TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtlsMode {
    Strict,
    Permissive,
}

// ---------------------------------------------------------------------------------------------
// Streams and topics
// ---------------------------------------------------------------------------------------------

/// `stream NAME { from … when … to … deliver … dead_letter … }`: a rule over Kafka records.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub name: Ident,
    pub statements: Vec<StreamStatement>,
    pub span: Span,
}

/// One line of a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamStatement {
    /// `from topic "T" group "G"`.
    From {
        topic: Spanned<String>,
        group: Option<Spanned<String>>,
        span: Span,
    },
    When(Cel),
    /// `to topic "T" [key CEL] [value CEL]`.
    To {
        topic: Spanned<String>,
        key: Option<Cel>,
        value: Option<Cel>,
        /// `exactly_once`: republish in Kafka transactions with the source offsets.
        exactly_once: bool,
        span: Span,
    },
    /// `deliver SERVICE [path "P"] [concurrency N] [retry N [backoff MIN..MAX]]`.
    Deliver(Deliver),
    /// `dead_letter "T"`.
    DeadLetter(Spanned<String>),
}

impl StreamStatement {
    /// The span of the statement.
    pub fn span(&self) -> Span {
        match self {
            StreamStatement::From { span, .. } => *span,
            StreamStatement::When(c) => c.span,
            StreamStatement::To { span, .. } => *span,
            StreamStatement::Deliver(d) => d.span,
            StreamStatement::DeadLetter(t) => t.span,
        }
    }
}

/// Kafka → HTTP delivery settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Deliver {
    pub service: Ident,
    pub path: Option<Spanned<String>>,
    pub concurrency: Option<Spanned<u64>>,
    pub retry: Option<Spanned<u64>>,
    pub backoff: Option<Backoff>,
    pub span: Span,
}

/// `topic "NAME" [external] [{ partitions N  external }]`: declares a Kafka topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub name: Spanned<String>,
    /// Produced by something outside this program, so nothing here needs to produce it.
    pub external: bool,
    pub partitions: Option<Spanned<u64>>,
    pub span: Span,
}
