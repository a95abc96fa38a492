//! API key authentication: the key is read from a header or a query parameter and looked up in
//! the gateway's directory (hash index, constant-time confirmation).

use std::borrow::Cow;

use http::HeaderName;
use meshwork_bundle::{KeyLocation, SourceLocation};

use super::{AuthFailure, Authenticated};
use crate::admit::cel::query_param;
use crate::admit::consumers::ConsumerDirectory;
use crate::admit::error::AdmitBuildError;
use crate::admit::facts::RequestFacts;

/// Where a route reads its API key.
#[derive(Debug)]
pub struct KeyAuth {
    source: KeyFrom,
    missing: String,
}

#[derive(Debug)]
enum KeyFrom {
    Header(HeaderName),
    Query(String),
}

impl KeyAuth {
    /// Prepares key auth reading `name` from `location`.
    pub fn build(
        location: KeyLocation,
        name: &str,
        route: &str,
        source: &SourceLocation,
    ) -> Result<Self, AdmitBuildError> {
        let (from, missing) = match location {
            KeyLocation::Header => {
                let header = HeaderName::try_from(name).map_err(|_| {
                    AdmitBuildError::invalid(
                        route,
                        source,
                        format!("{name:?} is not a header name"),
                    )
                })?;
                (
                    KeyFrom::Header(header),
                    format!("missing API key: send it in header {name}"),
                )
            }
            KeyLocation::Query => (
                KeyFrom::Query(name.to_string()),
                format!("missing API key: send it in query parameter {name}"),
            ),
        };
        Ok(KeyAuth {
            source: from,
            missing,
        })
    }

    /// Finds the consumer whose key the request presents.
    pub fn authenticate<'d>(
        &self,
        facts: &RequestFacts<'_>,
        directory: &'d ConsumerDirectory,
    ) -> Result<Authenticated<'d>, AuthFailure> {
        let presented: Option<Cow<'_, [u8]>> = match &self.source {
            KeyFrom::Header(name) => facts.headers.get(name).map(Cow::Borrowed),
            KeyFrom::Query(name) => {
                facts
                    .query
                    .and_then(|q| query_param(q, name))
                    .map(|value| match value {
                        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
                    })
            }
        };
        let presented = match presented {
            Some(key) if !key.is_empty() => key,
            _ => return Err(AuthFailure::new(self.missing.clone(), None)),
        };
        match directory.by_key(&presented) {
            Some(consumer) => Ok(Authenticated {
                consumer,
                claims: None,
            }),
            None => Err(AuthFailure::new("API key is not valid", None)),
        }
    }
}
