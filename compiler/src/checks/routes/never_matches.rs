//! A `match` no request can satisfy (E0207).
//!
//! *What*: a path with `?` or `#` (the query and fragment are never part of the matched path),
//! or the same header or query parameter required twice with different values.
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
        let Some(matcher) = route.matcher() else { continue };
        let path = &matcher.path.value;
        if matcher.path.kind != ast::PathKind::Regex {
            if let Some(at) = path.node.find(['?', '#']) {
                let what = if path.node.as_bytes()[at] == b'?' { "query string" } else { "fragment" };
                out.push(
                    Diagnostic::error(&ROUTE_NEVER_MATCHES, format!("route `{}` can never match: a request path has no {what}", route.name.node))
                        .with_label(program.span_in_string(path, at, path.node.len() - at), format!("the {what} is not part of the path"))
                        .with_help("match query parameters with `query \"NAME\" \"VALUE\"` after the path"),
                );
            }
        }
        for (list, what) in [(&matcher.headers, "header"), (&matcher.query, "query parameter")] {
            for (i, pair) in list.iter().enumerate() {
                let same_name = |other: &&ast::KeyValueMatch| {
                    if what == "header" {
                        other.name.node.eq_ignore_ascii_case(&pair.name.node)
                    } else {
                        other.name.node == pair.name.node
                    }
                };
                if let Some(earlier) = list[..i].iter().find(same_name) {
                    if earlier.value.node != pair.value.node {
                        out.push(
                            Diagnostic::error(&ROUTE_NEVER_MATCHES, format!("route `{}` can never match: {what} `{}` must equal two values", route.name.node, pair.name.node))
                                .with_label(pair.span, "requires another value")
                                .with_label(earlier.span, "than this")
                                .with_help(format!("keep one `{what}` condition per name; to accept either value, write two routes"))
                        );
                    }
                }
            }
        }
    }
    out
}
