//! A `strip_prefix` that no request of the route starts with (W0205).
//!
//! *What*: the route's path condition and the prefix to strip disagree on a literal segment, or
//! the prefix is longer than every path the route matches.
//! *Why*: the strip silently never happens and the upstream receives paths it does not serve
//! (a classic Istio `rewrite.uri` slip after a path is renamed).
//! *Example*: `match GET prefix "/officers" … forward picard strip_prefix "/crew"`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::route_shape::{exact_segments, prefix_segments, Segment};
use super::STRIP_PREFIX_NEVER_APPLIES;

/// Every forward whose strip_prefix cannot apply.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let (Some(matcher), Some(forward)) = (route.matcher(), route.forward()) else {
            continue;
        };
        let Some(strip) = &forward.strip_prefix else {
            continue;
        };
        let strip_segments = prefix_segments(&strip.node);
        let path = &matcher.path.value.node;
        let possible = match matcher.path.kind {
            ast::PathKind::Regex => true,
            ast::PathKind::Prefix => {
                let segments = prefix_segments(path);
                segments.iter().zip(&strip_segments).all(|(a, b)| a == b)
            }
            ast::PathKind::Exact => {
                let segments = exact_segments(path);
                strip_segments.len() <= segments.len()
                    && strip_segments.iter().zip(&segments).all(|(s, p)| match p {
                        Segment::Literal(text) => text == s,
                        Segment::Param => true,
                    })
            }
        };
        if !possible {
            out.push(
                Diagnostic::warning(
                    &STRIP_PREFIX_NEVER_APPLIES,
                    format!(
                        "no request of route `{}` starts with \"{}\"",
                        route.name.node, strip.node
                    ),
                )
                .with_label(strip.span, "never stripped")
                .with_label(
                    matcher.path.value.span,
                    "the route only matches these paths",
                )
                .with_help(
                    "strip a leading part of the matched path, e.g. the matched prefix itself",
                ),
            );
        }
    }
    out
}
