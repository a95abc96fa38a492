//! HTTP basic authentication (RFC 7617) against the consumers' `basic` credentials.

use base64::Engine;
use http::HeaderValue;
use meshwork_bundle::SourceLocation;

use super::{authorization, challenge, quoted, AuthFailure, Authenticated};
use crate::admit::consumers::ConsumerDirectory;
use crate::admit::error::AdmitBuildError;
use crate::admit::facts::RequestFacts;

/// Basic auth with its rendered challenge.
#[derive(Debug)]
pub struct BasicAuth {
    challenge: HeaderValue,
}

impl BasicAuth {
    /// Prepares basic auth announcing `realm`.
    pub fn build(
        realm: &str,
        route: &str,
        source: &SourceLocation,
    ) -> Result<Self, AdmitBuildError> {
        let value = format!("Basic realm={}, charset=\"UTF-8\"", quoted(realm));
        Ok(BasicAuth {
            challenge: challenge(value, route, source)?,
        })
    }

    /// Finds the consumer whose user and password the request presents.
    pub fn authenticate<'d>(
        &self,
        facts: &RequestFacts<'_>,
        directory: &'d ConsumerDirectory,
    ) -> Result<Authenticated<'d>, AuthFailure> {
        let fail = |reason: &'static str| AuthFailure::new(reason, Some(&self.challenge));
        let encoded =
            authorization(facts, "Basic").ok_or_else(|| fail("missing basic credentials"))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| fail("basic credentials are not base64"))?;
        let colon = decoded
            .iter()
            .position(|b| *b == b':')
            .ok_or_else(|| fail("basic credentials have no ':' between user and password"))?;
        let user =
            std::str::from_utf8(&decoded[..colon]).map_err(|_| fail("basic user is not UTF-8"))?;
        match directory.by_basic(user, &decoded[colon + 1..]) {
            Some(consumer) => Ok(Authenticated {
                consumer,
                claims: None,
            }),
            None => Err(fail("user or password is not valid")),
        }
    }
}
