//! The `mesh` block: trust domain, mTLS mode, default and allow/deny rules.

use super::*;

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
    /// `fault SOURCE -> TARGETS abort|delay …`: injected failures on a mesh pair.
    Fault(MeshFault),
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

/// `fault SOURCE -> TARGETS abort PERCENT STATUS [when CEL]` (or `delay PERCENT DURATION`):
/// a share of the calls from `SOURCE` to the targets is aborted or delayed by the destination's
/// sidecar, where the caller's identity is verified (Kuma's MeshFaultInjection).
#[derive(Debug, Clone, PartialEq)]
pub struct MeshFault {
    /// A gateway or service name, or `*`.
    pub source: Ident,
    /// Service names, or `*`.
    pub targets: Vec<Ident>,
    /// What is injected, its share and its condition (as on a route).
    pub fault: Fault,
    pub span: Span,
}

/// Whether mesh traffic must use mutual TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtlsMode {
    Strict,
    Permissive,
}
