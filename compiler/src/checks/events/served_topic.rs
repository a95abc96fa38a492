//! `serve` routes: the topic served must be known (E0450), the bounds must leave room for a
//! client (E0451), and the route should answer GET (W0450).
//!
//! *What*: a `serve topic "T"` whose topic nothing produces, dead-letters into or declares; a
//! `buffer`, `buffer_size`, `clients` or `keepalive` of zero; a serve route matching a method
//! other than GET.
//! *Why*: clients would wait forever on a misspelt topic; a zero bound refuses or cuts off
//! every client; EventSource only sends GET.
//! *Example*: `serve topic "red-alert"` when a stream writes `red-alerts`.

use std::collections::BTreeSet;

use crate::diagnostics::suggest::closest;
use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::topic_uses::{topic_uses, TopicRole};
use super::{INVALID_SERVE_SETTING, SERVED_TOPIC_UNKNOWN, SERVE_NOT_GET};

/// Every diagnostic about the program's `serve` routes.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let uses = topic_uses(program);
    let known: BTreeSet<&str> = uses
        .iter()
        .filter(|u| !matches!(u.role, TopicRole::Consumed | TopicRole::Served))
        .map(|u| u.name.node.as_str())
        .collect();
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(serve) = route.serve() else {
            continue;
        };
        let name = serve.topic.node.as_str();
        if !known.contains(name) && !program.symbols.is_external_topic(name) {
            let help = match closest(name, known.iter().copied()) {
                Some(suggestion) => format!("did you mean \"{suggestion}\"? If another system produces \"{name}\", declare it: `topic \"{name}\" external`"),
                None => format!("if another system produces it, declare it: `topic \"{name}\" external`"),
            };
            out.push(
                Diagnostic::error(
                    &SERVED_TOPIC_UNKNOWN,
                    format!("route `{}` serves \"{name}\", which this program never produces or declares", route.name.node),
                )
                .with_label(serve.topic.span, "clients would wait forever")
                .with_help(help),
            );
        }
        out.extend(zero_bounds(serve));
        if let Some(matcher) = route.statements.iter().find_map(|s| match s {
            ast::RouteStatement::Match(m) => Some(m),
            _ => None,
        }) {
            let method = matcher.method.as_ref().map(|m| m.node.as_str());
            if method != Some("GET") {
                let span = matcher.method.as_ref().map_or(matcher.span, |m| m.span);
                out.push(
                    Diagnostic::warning(
                        &SERVE_NOT_GET,
                        format!(
                            "route `{}` serves a topic but matches {}",
                            route.name.node,
                            method.map_or("any method".to_string(), |m| m.to_string())
                        ),
                    )
                    .with_label(span, "EventSource and long-poll clients send GET")
                    .with_help("match GET: `match GET \"/path\"`"),
                );
            }
        }
    }
    out
}

/// E0451 for each bound set to zero.
fn zero_bounds(serve: &ast::Serve) -> Vec<Diagnostic> {
    let zeros = [
        serve.buffer.as_ref().filter(|b| b.node == 0).map(|b| {
            (
                b.span,
                "buffer 0: every client would be cut off at its first event",
            )
        }),
        serve
            .buffer_size
            .as_ref()
            .filter(|b| b.node.bytes == 0)
            .map(|b| (b.span, "buffer_size 0: no event fits")),
        serve
            .clients
            .as_ref()
            .filter(|c| c.node == 0)
            .map(|c| (c.span, "clients 0: every client would get 503")),
        serve
            .keepalive
            .as_ref()
            .filter(|k| k.node.millis == 0)
            .map(|k| (k.span, "keepalive 0s: comments would be sent without pause")),
    ];
    zeros
        .into_iter()
        .flatten()
        .map(|(span, why)| {
            Diagnostic::error(&INVALID_SERVE_SETTING, why.to_string())
                .with_label(span, "must be at least 1")
                .with_help(
                    "the defaults are buffer 256, buffer_size 1MiB, clients 100, keepalive 15s",
                )
        })
        .collect()
}
