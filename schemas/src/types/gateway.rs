//! Gateways: listeners, consumers and their routes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bundle::{SecretRef, SourceLocation};
use super::route::Route;

/// A set of listeners admitting outside clients through routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// The gateway's name.
    pub name: String,
    /// Listening sockets, sorted by address.
    pub listeners: Vec<Listener>,
    /// Known clients, sorted by name.
    pub consumers: Vec<Consumer>,
    /// Routes in match order: most specific first (see [`crate::precedence`]).
    pub routes: Vec<Route>,
    /// Where the gateway was declared (the first declaration when merged).
    pub source: SourceLocation,
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// `host:port`.
    pub address: String,
    /// TLS settings, or `null` for plain HTTP.
    #[serde(deserialize_with = "super::bounded::present")]
    pub tls: Option<ListenerTls>,
    /// Where the listener was declared.
    pub source: SourceLocation,
}

/// The certificate chain and private key of a TLS listener (PEM files or variables).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    /// The certificate chain.
    pub cert: SecretRef,
    /// The private key.
    pub key: SecretRef,
}

/// A known client of a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    /// The consumer's name (`consumer.name` in CEL).
    pub name: String,
    /// Ways the consumer can prove who it is, in source order.
    pub credentials: Vec<Credential>,
    /// Group names, sorted and without duplicates (`consumer.groups` in CEL).
    pub groups: Vec<String>,
    /// Where the consumer was declared.
    pub source: SourceLocation,
}

/// How a consumer proves who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Credential {
    /// An API key.
    Key {
        /// The expected key.
        secret: SecretRef,
    },
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        user: String,
        /// The expected password.
        password: SecretRef,
    },
    /// A JWT whose `sub` claim equals `subject`.
    Jwt {
        /// The expected `sub` claim.
        subject: String,
    },
}
