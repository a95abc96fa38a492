//! A `match` no request can satisfy (E0207).
//!
//! *What*: a path with `?` or `#` (the query and fragment are never part of the matched path).
//! (A header or query parameter named twice is E0209; a `when` that contradicts the match is
//! E0210.)
//! *Why*: the route can never be chosen; its requests fall through to another route or 404.
//! *Example*: `match GET "/search?q=warp"` (write `match GET "/search" query "q" "warp"`).

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::ROUTE_NEVER_MATCHES;

/// Every impossible match.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(matcher) = route.matcher() else {
            continue;
        };
        let path = &matcher.path.value;
        if matcher.path.kind != ast::PathKind::Regex {
            if let Some(at) = path.node.find(['?', '#']) {
                let what = if path.node.as_bytes()[at] == b'?' {
                    "query string"
                } else {
                    "fragment"
                };
                out.push(
                    Diagnostic::error(
                        &ROUTE_NEVER_MATCHES,
                        format!(
                            "route `{}` can never match: a request path has no {what}",
                            route.name.node
                        ),
                    )
                    .with_label(
                        program.span_in_string(path, at, path.node.len() - at),
                        format!("the {what} is not part of the path"),
                    )
                    .with_help(
                        "match query parameters with `query \"NAME\" \"VALUE\"` after the path",
                    ),
                );
            }
        }
    }
    out
}
