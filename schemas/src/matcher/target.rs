//! What the matcher looks at in a request.

/// Header access for the matcher, so it does not depend on an HTTP library's header map.
/// `Sync` so a [`RequestTarget`] may live across an `.await` in a multi-threaded server.
pub trait HeaderLookup: Sync {
    /// Whether some value of header `name` (given in lower case) equals `value` exactly.
    fn has_value(&self, name: &str, value: &str) -> bool;
}

/// A request without headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHeaders;

impl HeaderLookup for NoHeaders {
    fn has_value(&self, _name: &str, _value: &str) -> bool {
        false
    }
}

/// Headers as `(name, value)` pairs, names compared case-insensitively (for tools and tests).
#[derive(Debug, Clone, Copy)]
pub struct HeaderPairs<'a>(pub &'a [(&'a str, &'a str)]);

impl HeaderLookup for HeaderPairs<'_> {
    fn has_value(&self, name: &str, value: &str) -> bool {
        self.0
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && *v == value)
    }
}

/// The parts of a request a route can match on.
#[derive(Clone, Copy)]
pub struct RequestTarget<'a> {
    /// The method as sent (`GET`).
    pub method: &'a str,
    /// The host without port (any case; a trailing dot is ignored). Empty when the request has none.
    pub host: &'a str,
    /// The path, already normalized with [`super::normalize_path`].
    pub path: &'a str,
    /// The raw query string without `?` (empty when none).
    pub query: &'a str,
    /// The request headers.
    pub headers: &'a dyn HeaderLookup,
}

impl<'a> RequestTarget<'a> {
    /// A request with no query string and no headers.
    pub fn new(method: &'a str, host: &'a str, path: &'a str) -> Self {
        RequestTarget {
            method,
            host,
            path,
            query: "",
            headers: &NoHeaders,
        }
    }

    /// The same request with a query string (without `?`).
    pub fn with_query(self, query: &'a str) -> Self {
        RequestTarget { query, ..self }
    }

    /// The same request with headers.
    pub fn with_headers(self, headers: &'a dyn HeaderLookup) -> Self {
        RequestTarget { headers, ..self }
    }
}

impl std::fmt::Debug for RequestTarget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestTarget")
            .field("method", &self.method)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}
