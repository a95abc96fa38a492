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
    /// `mirror SOURCE -> TARGETS to SERVICE …`: copies of a mesh pair's calls.
    Mirror(MeshMirror),
    /// `mtls strict|permissive`.
    Mtls(Spanned<MtlsMode>),
    /// `between_sidecars h2|http1`: how an HTTP/1.1 service's calls go between sidecars.
    BetweenSidecars(Spanned<SidecarHop>),
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

/// `mirror SOURCE -> TARGETS to SERVICE [P%] [max_body SIZE] [queue N]`: the caller's outbound
/// sidecar copies a share of the pair's calls to `SERVICE`, fire and forget (Istio's
/// VirtualService `mirror`, applied on the client side as Istio does).
#[derive(Debug, Clone, PartialEq)]
pub struct MeshMirror {
    /// A gateway or service name, or `*`.
    pub source: Ident,
    /// Service names, or `*`.
    pub targets: Vec<Ident>,
    /// The mirror service, its share, body limit and queue (as on a route).
    pub mirror: Mirror,
    pub span: Span,
}

/// The protocol between sidecars for an HTTP/1.1 service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidecarHop {
    H2,
    Http1,
}

/// Whether mesh traffic must use mutual TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtlsMode {
    Strict,
    Permissive,
}
