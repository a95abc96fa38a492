//! `gateway` blocks: listeners, path settings, consumers and their credentials.

use super::*;

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
    /// `tracing { sample N% }`: W3C trace context and span export (off when absent).
    pub tracing: Option<Tracing>,
    pub span: Span,
}

/// `tracing { sample N% }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracing {
    /// `sample N%`, the statement's span: the share of new traces recorded (100% when absent).
    pub sample: Option<Spanned<Percent>>,
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
