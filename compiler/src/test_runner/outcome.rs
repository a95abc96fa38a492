//! What happened to one test's request, call or record, as decided by the runtime's code:
//! what the expectations are checked against, and what coverage counts.

use meshwork_bundle::SourceLocation;

/// A refusal: by an admission step of a route, or by the mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `auth`, `access`, `rate_limit`, `condition`, `cors`, `body_limit` or `mesh`.
    pub step: String,
    pub reason: String,
    /// The rule that refused (for the mesh's default: where the mesh block sets it, if known).
    pub source: Option<SourceLocation>,
}

/// A record a stream writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmittedRecord {
    pub stream: String,
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// What one stream did with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamVerdict {
    /// Its `when` was false.
    Filtered,
    /// It wrote the record on (`emitted`, if it has a `to`) and/or delivered it.
    Passed {
        emitted: Option<EmittedRecord>,
        delivered_to: Option<String>,
    },
    /// An expression failed: the record goes to the dead letter (if any) with this reason.
    Failed {
        dead_letter: Option<String>,
        reason: String,
        message: String,
    },
}

/// One stream's decision on one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStep {
    pub stream: String,
    /// The topic the record was on.
    pub topic: String,
    pub source: SourceLocation,
    pub verdict: StreamVerdict,
}

/// A record produced by a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducedRecord {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
}

/// The outcome of a test's subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The HTTP status, when the gateway (or the mesh) answers itself; `None` when the request
    /// is forwarded (its status is the upstream's).
    pub status: Option<u16>,
    /// The gateway that received the request.
    pub gateway: Option<String>,
    /// The route that took it, with where it is written.
    pub route: Option<(String, SourceLocation)>,
    /// Admitted by the gateway, or let through by the mesh.
    pub allowed: bool,
    pub refusal: Option<Refusal>,
    /// Why routing answered itself (404, 405, 400).
    pub routing_error: Option<String>,
    /// For a forward: the services and their weights.
    pub forward: Option<Vec<(String, u8)>>,
    /// The headers of the request sent upstream, after the route's header rules (lower-case names).
    pub upstream_headers: Vec<(String, String)>,
    /// The headers of the gateway's answer that admission decides (header rules, CORS, `RateLimit-*`,
    /// `WWW-Authenticate`, `Retry-After`, `x-meshwork-denied-by`).
    pub response_headers: Vec<(String, String)>,
    /// The body of an answer the gateway gives itself (`respond`, a refusal's JSON).
    pub body: Option<Vec<u8>>,
    /// A produce route's record.
    pub produced: Option<ProducedRecord>,
    /// What the streams did with the produced record or the test's record (and with what they
    /// wrote on, transitively).
    pub streams: Vec<StreamStep>,
    /// The mesh rule that decided a call (`None` for the default).
    pub mesh_rule: Option<SourceLocation>,
    /// For coverage: the admission steps that ran, as indexes into the route's admission.
    pub steps_reached: Vec<usize>,
    /// The fault delay that fired (under `faults forced`): milliseconds, and where written.
    pub fault_delay: Option<(u64, SourceLocation)>,
    /// The fault abort that fired: the status, and where written.
    pub fault_abort: Option<(u16, SourceLocation)>,
    /// The service a route's mirror copies the forwarded request to, with its share.
    pub mirror: Option<(String, u8)>,
    /// Why a route with a mirror does not copy this request.
    pub mirror_skipped: Option<String>,
}
