//! What the matcher looks at in a request.

/// Header access for the matcher, so it does not depend on an HTTP library's header map.
/// `Sync` so a [`RequestTarget`] may live across an `.await` in a multi-threaded server.
pub trait HeaderLookup: Sync {
    /// Whether header `name` (given in lower case) is present and its combined value equals
    /// `value` exactly. A header sent on several lines is one value: the lines' values in order,
    /// joined by [`HEADER_VALUE_SEPARATOR`] (RFC 9110 §5.3), as the Gateway API asks for repeated
    /// request headers, and as CEL conditions read `request.headers`, so a match and a condition
    /// on the same header agree. Implementations can use [`combined_value_equals`].
    fn has_value(&self, name: &str, value: &str) -> bool;
}

/// How the values of a header sent on several lines are joined into one (RFC 9110 §5.3: a comma;
/// the space is the list syntax's optional whitespace, written as CEL's `request.headers` does).
pub const HEADER_VALUE_SEPARATOR: &[u8] = b", ";

/// Whether the values of one header's lines, in order, joined by [`HEADER_VALUE_SEPARATOR`],
/// equal `expected`, without building the joined value. No lines is no value (never equal, even
/// to `""`).
pub fn combined_value_equals<'v>(
    mut values: impl Iterator<Item = &'v [u8]>,
    expected: &[u8],
) -> bool {
    let Some(first) = values.next() else {
        return false;
    };
    let Some(mut rest) = expected.strip_prefix(first) else {
        return false;
    };
    for value in values {
        match rest
            .strip_prefix(HEADER_VALUE_SEPARATOR)
            .and_then(|r| r.strip_prefix(value))
        {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
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
        let values = self
            .0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_bytes());
        combined_value_equals(values, value.as_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn combined(values: &[&str], expected: &str) -> bool {
        combined_value_equals(values.iter().map(|v| v.as_bytes()), expected.as_bytes())
    }

    #[test]
    fn repeated_lines_are_one_comma_joined_value() {
        assert!(combined(&["one"], "one"));
        assert!(combined(&["a", "b"], "a, b"));
        assert!(!combined(&["a", "b"], "a,b"));
        assert!(!combined(&["a", "b"], "a"));
        assert!(!combined(&["a", "b"], "b"));
        assert!(!combined(&["a", "b"], "a, b, "));
        assert!(!combined(&["a"], "a, b"));
        assert!(combined(&["", ""], ", "));
        assert!(combined(&[""], ""));
        assert!(!combined(&[], ""));
    }
}
