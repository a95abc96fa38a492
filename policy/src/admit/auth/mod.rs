//! Authentication: who is calling. One method per route (key, basic or JWT); success names a
//! consumer of the gateway, failure is a 401 with a reason and, for basic and JWT, a
//! `WWW-Authenticate` challenge.

mod basic;
mod jwks;
mod jwt;
mod jwt_claims;
mod jwt_signature;
mod key;

use std::borrow::Cow;

use http::HeaderValue;
use meshwork_bundle::{AuthMethod, SourceLocation};

pub use basic::BasicAuth;
pub use jwt::JwtAuth;
pub use key::KeyAuth;

use super::claims::JwtClaims;
use super::consumers::{ConsumerDirectory, ConsumerEntry};
use super::error::AdmitBuildError;
use super::facts::RequestFacts;
use crate::secrets::SecretStore;

/// A caller that proved who it is.
#[derive(Debug)]
pub struct Authenticated<'d> {
    /// The consumer.
    pub consumer: &'d ConsumerEntry,
    /// The token's claims, for JWT.
    pub claims: Option<JwtClaims>,
}

/// Why a caller was not authenticated.
#[derive(Debug, Clone)]
pub struct AuthFailure {
    /// Said to the client and in the access log; never contains a secret.
    pub reason: Cow<'static, str>,
    /// The `WWW-Authenticate` value to send with the 401, if the method has one.
    pub challenge: Option<HeaderValue>,
}

impl AuthFailure {
    fn new(reason: impl Into<Cow<'static, str>>, challenge: Option<&HeaderValue>) -> Self {
        AuthFailure {
            reason: reason.into(),
            challenge: challenge.cloned(),
        }
    }
}

/// One route's authentication method, ready to run.
#[derive(Debug)]
pub enum Authenticator {
    /// An API key in a header or query parameter.
    Key(KeyAuth),
    /// HTTP basic authentication.
    Basic(BasicAuth),
    /// A bearer JWT.
    Jwt(Box<JwtAuth>),
}

impl Authenticator {
    /// Prepares `method` of `route` (in gateway `gateway`): header names parsed, challenges
    /// rendered, JWT keys loaded.
    pub fn build(
        method: &AuthMethod,
        route: &str,
        gateway: &str,
        source: &SourceLocation,
        secrets: &SecretStore,
    ) -> Result<Self, AdmitBuildError> {
        Ok(match method {
            AuthMethod::Key { location, name } => {
                Authenticator::Key(KeyAuth::build(*location, name, route, source)?)
            }
            AuthMethod::Basic { realm } => Authenticator::Basic(BasicAuth::build(
                realm.as_deref().unwrap_or(gateway),
                route,
                source,
            )?),
            AuthMethod::Jwt {
                issuer,
                audience,
                alg,
                keys,
                secret,
            } => Authenticator::Jwt(Box::new(JwtAuth::build(
                jwt::JwtSettings {
                    issuer: issuer.as_deref(),
                    audience: audience.as_deref(),
                    alg: alg.as_deref(),
                    keys: keys.as_ref(),
                    secret: secret.as_ref(),
                    realm: gateway,
                },
                route,
                source,
                secrets,
            )?)),
        })
    }

    /// Authenticates the request against `directory`.
    pub fn authenticate<'d>(
        &self,
        facts: &RequestFacts<'_>,
        directory: &'d ConsumerDirectory,
    ) -> Result<Authenticated<'d>, AuthFailure> {
        match self {
            Authenticator::Key(key) => key.authenticate(facts, directory),
            Authenticator::Basic(basic) => basic.authenticate(facts, directory),
            Authenticator::Jwt(jwt) => jwt.authenticate(facts, directory),
        }
    }
}

/// The quoted-string form of `value` for an auth-param (RFC 9110 §5.6.4).
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A challenge header value, or a build error if the realm cannot be sent in a header.
fn challenge(
    value: String,
    route: &str,
    source: &SourceLocation,
) -> Result<HeaderValue, AdmitBuildError> {
    HeaderValue::try_from(value).map_err(|_| {
        AdmitBuildError::invalid(route, source, "the realm cannot be sent in a header")
    })
}

/// The credentials of an `Authorization: <scheme> <credentials>` header, if it uses `scheme`
/// (compared case-insensitively).
fn authorization<'a>(facts: &RequestFacts<'a>, scheme: &str) -> Option<&'a str> {
    let value = facts.headers.get_str(&http::header::AUTHORIZATION)?;
    let (given, credentials) = value.trim_start().split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| credentials.trim())
}
