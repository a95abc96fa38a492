//! The per-route filters checked once a route's host and path match: method, headers, query.

use crate::types::route::RouteMatch;

use super::query::query_has;
use super::target::RequestTarget;

/// A route's method, header and query conditions, ready to test.
#[derive(Debug, Clone)]
pub(crate) struct RouteFilters {
    /// `None` matches any method.
    pub method: Option<Box<str>>,
    /// `(lower-case name, value)`, the first entry of each name only.
    headers: Box<[(Box<str>, Box<str>)]>,
    /// `(name, value)`, compared percent-decoded, the first entry of each name only.
    query: Box<[(Box<str>, Box<str>)]>,
}

impl RouteFilters {
    /// Takes the filters of a route's match (see [`RouteMatch::effective_headers`]).
    pub fn new(matcher: &RouteMatch) -> Self {
        RouteFilters {
            method: matcher.method.as_deref().map(Box::from),
            headers: matcher
                .effective_headers()
                .map(|h| (h.name.to_ascii_lowercase().into(), h.value.as_str().into()))
                .collect(),
            query: matcher
                .effective_query()
                .map(|q| (q.name.as_str().into(), q.value.as_str().into()))
                .collect(),
        }
    }

    /// Whether the request's method is the route's (or the route takes any).
    pub fn method_matches(&self, method: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
    }

    /// Whether every header and query condition holds.
    pub fn headers_and_query_match(&self, target: &RequestTarget<'_>) -> bool {
        self.headers
            .iter()
            .all(|(name, value)| target.headers.has_value(name, value))
            && self
                .query
                .iter()
                .all(|(name, value)| query_has(target.query, name, value))
    }

    /// Whether everything but the host and path matches.
    pub fn matches(&self, target: &RequestTarget<'_>) -> bool {
        self.method_matches(target.method) && self.headers_and_query_match(target)
    }
}
