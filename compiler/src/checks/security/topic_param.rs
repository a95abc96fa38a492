//! A produce topic taken from the path without an allow-list (E0603).
//!
//! *What*: `produce topic param "ship"` without `allow [..]`, or with an empty one.
//! *Why*: any caller could write to any topic of the cluster (internal topics included) by
//! choosing the URL.
//! *Example*: `route r { match POST "/log/{ship}" … produce topic param "ship" }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::UNRESTRICTED_TOPIC_PARAM;

/// Every unrestricted topic parameter.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(produce) = route.produce() else {
            continue;
        };
        let ast::TopicRef::Param { param, allow } = &produce.topic else {
            continue;
        };
        match allow {
            None => out.push(
                Diagnostic::error(
                    &UNRESTRICTED_TOPIC_PARAM,
                    format!(
                        "route `{}` lets the caller choose any topic",
                        route.name.node
                    ),
                )
                .with_label(param.span, "the topic comes from the URL, unchecked")
                .with_help(format!(
                    "list the topics it may name: `produce topic param \"{}\" allow [\"…\"]`",
                    param.node
                )),
            ),
            Some(list) if list.is_empty() => out.push(
                Diagnostic::error(
                    &UNRESTRICTED_TOPIC_PARAM,
                    format!("route `{}` allows no topic", route.name.node),
                )
                .with_label(param.span, "every request would be refused")
                .with_help("list at least one topic in `allow [..]`"),
            ),
            Some(_) => {}
        }
    }
    out
}
