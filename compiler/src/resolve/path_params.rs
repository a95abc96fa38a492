//! Unknown path parameters (E0102) in `produce topic param "…"` and `rewrite` templates. (CEL's
//! `request.params.…` is checked with the other CEL variables, with the same code.)

use crate::diagnostics::suggest::closest;
use crate::diagnostics::Diagnostic;
use crate::source::Span;
use crate::syntax::ast;

use super::route_match::route_params;
use super::{Program, UNKNOWN_PATH_PARAMETER};

/// Every parameter used by a route that its path does not capture.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let uses_params = route
            .produce()
            .is_some_and(|p| matches!(p.topic, ast::TopicRef::Param { .. }))
            || route
                .forward()
                .is_some_and(|f| f.rewrite.as_ref().is_some_and(|r| r.node.contains('{')));
        if !uses_params {
            continue;
        }
        let params = route_params(route);
        if let Some(ast::TopicRef::Param { param, .. }) = route.produce().map(|p| &p.topic) {
            if !params.contains(&param.node) {
                out.push(unknown_param(&param.node, param.span, &params));
            }
        }
        if let Some(rewrite) = route.forward().and_then(|f| f.rewrite.as_ref()) {
            for (offset, name) in rewrite_params(&rewrite.node) {
                if !params.iter().any(|p| p == name) {
                    let span = program.span_in_string(rewrite, offset, name.len() + 2);
                    out.push(unknown_param(name, span, &params));
                }
            }
        }
    }
    out
}

/// A `{name}` the route's path does not capture, at `span`.
pub fn unknown_param(name: &str, span: Span, params: &[String]) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        &UNKNOWN_PATH_PARAMETER,
        format!("the route's path captures no parameter `{name}`"),
    )
    .with_label(span, "not captured by the path");
    let help = match closest(name, params.iter().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`?"),
        None if params.is_empty() => {
            "the route's path captures no parameters; write a template such as \"/ships/{ship}\""
                .to_string()
        }
        None => format!(
            "the path captures {}",
            params
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    diagnostic.with_help(help)
}

/// The `{name}` placeholders of a rewrite template: (byte offset of `{`, name).
fn rewrite_params(template: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut rest = template;
    let mut base = 0;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push((base + open, &rest[open + 1..open + close]));
        base += open + close + 1;
        rest = &rest[open + close + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_placeholders_are_found_with_their_offsets() {
        assert_eq!(
            rewrite_params("/v2/{ship}/x/{id}"),
            [(4, "ship"), (13, "id")]
        );
        assert!(rewrite_params("/plain").is_empty());
    }
}
