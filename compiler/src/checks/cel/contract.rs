//! The documented CEL contract: which variables exist, their fields and types, and where each
//! may be used. `docs/language.md` describes the same table; the runtime provides exactly this.

use super::types::Ty;

/// Where an expression is evaluated, which decides the variables it can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CelContext {
    /// A route's `when`: the request and the authenticated caller.
    RouteCondition,
    /// A route's `produce … key`.
    ProduceKey,
    /// A mesh rule's `when`: the request and the calling service.
    MeshCondition,
    /// A service's `balance hash(…)`: the request and the calling service.
    BalanceHash,
    /// A stream's `when`.
    StreamCondition,
    /// A stream's `to … key`.
    StreamKey,
    /// A stream's `to … value`.
    StreamValue,
    /// A `serve` route's `when`: each record it would send to an HTTP client.
    ServeCondition,
}

impl CelContext {
    /// The variables visible here.
    pub fn roots(self) -> &'static [&'static str] {
        match self {
            CelContext::RouteCondition | CelContext::ProduceKey => &["request", "consumer", "jwt"],
            CelContext::MeshCondition | CelContext::BalanceHash => &["request", "source"],
            CelContext::StreamCondition
            | CelContext::StreamKey
            | CelContext::StreamValue
            | CelContext::ServeCondition => &["event"],
        }
    }

    /// How the context is named in messages.
    pub fn describe(self) -> &'static str {
        match self {
            CelContext::RouteCondition => "a route condition",
            CelContext::ProduceKey => "a produce key",
            CelContext::MeshCondition => "a mesh rule condition",
            CelContext::BalanceHash => "a balance hash",
            CelContext::StreamCondition => "a stream condition",
            CelContext::StreamKey => "a stream's record key",
            CelContext::StreamValue => "a stream's record value",
            CelContext::ServeCondition => "a `serve` condition (per record sent to a client)",
        }
    }

    /// Fields a variable has only in this context: a produce key also sees `request.body`, the
    /// request body parsed as JSON (the route reads the whole body for the record anyway).
    pub fn extra_fields(self, root: &str) -> &'static [(&'static str, Ty)] {
        match (self, root) {
            (CelContext::ProduceKey, "request") => &[("body", Ty::Dyn)],
            _ => &[],
        }
    }

    /// True for the contexts evaluated per Kafka record.
    pub fn is_stream(self) -> bool {
        matches!(
            self,
            CelContext::StreamCondition
                | CelContext::StreamKey
                | CelContext::StreamValue
                | CelContext::ServeCondition
        )
    }
}

/// Every variable of the contract.
pub const ROOTS: [&str; 5] = ["request", "consumer", "jwt", "source", "event"];

/// The fields of a variable and their types.
pub fn fields(root: &str) -> &'static [(&'static str, Ty)] {
    match root {
        "request" => &[
            ("method", Ty::String),
            ("path", Ty::String),
            ("host", Ty::String),
            ("headers", Ty::StringMap),
            ("query", Ty::StringMap),
            ("remote_addr", Ty::String),
            ("params", Ty::StringMap),
        ],
        "consumer" => &[("name", Ty::String), ("groups", Ty::StringList)],
        "jwt" => &[("claims", Ty::Map)],
        "source" => &[("service", Ty::String), ("identity", Ty::String)],
        "event" => &[
            ("topic", Ty::String),
            ("partition", Ty::Int),
            ("offset", Ty::Int),
            ("key", Ty::Dyn),
            ("value", Ty::Dyn),
            ("headers", Ty::StringMap),
            ("timestamp", Ty::Timestamp),
        ],
        _ => &[],
    }
}

/// Identifiers CEL itself defines (type names usable in `type(x) == int`).
pub const BUILTIN_IDENTS: [&str; 11] = [
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
];
