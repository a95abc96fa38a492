//! The route matcher, shared by `meshd` (which routes every request with it) and `meshc explain`
//! (which shows which routes a request would match), so both always agree.
//!
//! [`RouteTable::new`] precompiles a gateway's routes, given in bundle order (= precedence, see
//! [`crate::precedence`]); [`RouteTable::find`] returns the first route in that order that matches,
//! exactly as a linear scan would, without scanning: routes are bucketed by host (exact, `*.`
//! wildcard, any), each bucket holds a segment trie for exact, template and prefix paths and one
//! [`regex::RegexSet`] for regular-expression paths, and method, header and query filters are checked
//! only on the routes whose host and path already match. Subtrees that only hold routes later in
//! the order than the best match so far are never visited.
//!
//! # Matching policy
//! - **Host**: compared case-insensitively without port and without a trailing dot. `*.example.com`
//!   matches one or more labels in front of `.example.com` (`a.example.com`, `a.b.example.com`), never
//!   `example.com` itself (as in the Kubernetes Gateway API).
//! - **Path normalization** ([`normalize_path`]): the request path is normalized before matching and
//!   the runtime forwards the normalized path, so what was matched is what the upstream sees.
//!   Percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, every other escape
//!   keeps its encoding with upper-case hex digits, and `.` / `..` segments are removed (RFC 3986
//!   §5.2.4, §6.2.2). So `/%61dmin` is `/admin` and `/x/../admin` is `/admin`, while `/a%2Fb` stays one
//!   segment that never matches `/a/b`. A malformed escape (`%zz`, `%4`) is a [`PathError`] (the runtime
//!   answers 400). Route paths go through the same normalization when the table is built.
//! - **Segments**: a path is split at `/`. A trailing slash is significant for exact and template
//!   paths (`/a` ≠ `/a/`); a prefix matches whole segments and ignores its own trailing slash, so prefix
//!   `/api` (or `/api/`) matches `/api`, `/api/` and `/api/v1` but never `/apiv1`. Prefix `/` matches every path.
//! - **Templates**: a segment written exactly `{name}` captures one non-empty segment; text around
//!   braces inside a segment (`/f/x{id}`) is literal. Captured values are returned as they appear in
//!   the normalized path (still percent-encoded).
//! - **Regular expressions** must match the whole path (they are anchored as `^(?:…)$`); named groups
//!   become parameters.
//! - **Method** is compared exactly (methods are case-sensitive); a route without one matches any.
//! - **Headers**: names case-insensitively, values exactly. A header sent on several lines is
//!   compared as one value, the lines joined by `, ` (RFC 9110 §5.3; CEL's `request.headers` reads
//!   it the same way). When one match names a header twice (in any case), only the first entry
//!   counts (Gateway API `HTTPHeaderMatch.Name`).
//! - **Query**: parameter names and values are compared exactly after percent-decoding (`+` is
//!   not a space); a parameter repeated in the request counts with its first value, and when one
//!   match names a parameter twice, only the first entry counts (`HTTPQueryParamMatch.Name`).
//! - **Method mismatch**: a route whose method differs does not match (Gateway API, Envoy, Kong:
//!   404). When nothing matches but some route matches everything except the method,
//!   [`RouteTable::find`] returns [`MatchOutcome::MethodMismatch`] with those routes and their
//!   methods: the runtime answers 404 (or 405 with `Allow` when the gateway says
//!   `method_mismatch 405`), and `meshc explain` names the routes that would have matched.
//!
//! `tests.rs` holds the matcher's own cases; `gateway_api_tests.rs` replays the HTTPRouteMatch
//! rules and the Gateway API conformance cases, each test citing the rule it checks.

mod compiled_route;
mod host_table;
mod path_normalize;
mod path_trie;
mod query;
mod regex_routes;
mod route_table;
mod target;

#[cfg(test)]
mod gateway_api_tests;
#[cfg(test)]
mod tests;

pub use path_normalize::{normalize_host, normalize_path, normalize_request_path, PathError};
pub use route_table::{MatchOutcome, MatcherError, MatcherErrorKind, Params, RouteTable};
pub use target::{
    combined_value_equals, HeaderLookup, HeaderPairs, NoHeaders, RequestTarget,
    HEADER_VALUE_SEPARATOR,
};
