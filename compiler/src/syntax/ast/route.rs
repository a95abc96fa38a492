//! `route` blocks inside a gateway: matches, admission steps, faults, mirrors and the action.

use super::*;

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
    /// `websocket off` or `websocket { max N  idle DURATION }`: upgraded connections.
    WebSocket(Box<WebSocket>),
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
            RouteStatement::WebSocket(w) => w.span,
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

/// `websocket off` or `websocket { max N  idle DURATION }` (each setting optional): whether the
/// route forwards WebSocket (and other HTTP/1.1) upgrades, how many may be open at once and how
/// long one may stay silent. A route without the line allows upgrades with the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSocket {
    /// `false` for `websocket off`.
    pub allowed: bool,
    pub max: Option<Spanned<u64>>,
    pub idle: Option<Spanned<Duration>>,
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
