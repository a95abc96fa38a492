//! Why a route's admission cannot be built from a bundle. Every message names the place in the
//! `.mesh` source (`file:line:column`) and never a secret's value.

use meshwork_bundle::SourceLocation;

use crate::secrets::SecretError;

/// `file:line:column` of a rule.
pub fn at(source: &SourceLocation) -> String {
    format!("{}:{}:{}", source.file, source.line, source.column)
}

/// A bundle the admission layer refuses to run.
#[derive(Debug, thiserror::Error)]
pub enum AdmitBuildError {
    /// A secret the rule needs did not resolve.
    #[error("{at}: {reference} is not available")]
    Secret {
        /// Where the secret is used.
        at: String,
        /// The reference as written.
        reference: String,
        /// Why it is missing.
        source: SecretError,
    },
    /// Two consumers present the same credential, so a caller could not be told apart.
    #[error("{at}: consumers {first} and {second} of gateway {gateway} share one {kind}")]
    SharedCredential {
        /// Where the second consumer is declared.
        at: String,
        /// The gateway.
        gateway: String,
        /// `API key`, `basic user` or `JWT subject`.
        kind: &'static str,
        /// The consumer declared first.
        first: String,
        /// The consumer declared second.
        second: String,
    },
    /// A rule names a consumer the gateway does not declare.
    #[error("{at}: route {route} names consumer {name}, which gateway {gateway} does not declare")]
    UnknownConsumer {
        /// Where the rule is.
        at: String,
        /// The route.
        route: String,
        /// The gateway.
        gateway: String,
        /// The unknown name.
        name: String,
    },
    /// A rule holds a value that does not parse (a CIDR, a header, an algorithm, a rate…).
    #[error("{at}: route {route}: {message}")]
    Invalid {
        /// Where the rule is.
        at: String,
        /// The route.
        route: String,
        /// What is wrong.
        message: String,
    },
    /// A CEL expression does not compile.
    #[error("{at}: route {route}: CEL does not compile: {message}")]
    Cel {
        /// Where the expression is.
        at: String,
        /// The route.
        route: String,
        /// The parser's message.
        message: String,
    },
}

impl AdmitBuildError {
    /// An [`AdmitBuildError::Invalid`] for a rule at `source` of `route`.
    pub fn invalid(route: &str, source: &SourceLocation, message: impl Into<String>) -> Self {
        AdmitBuildError::Invalid {
            at: at(source),
            route: route.to_string(),
            message: message.into(),
        }
    }
}
