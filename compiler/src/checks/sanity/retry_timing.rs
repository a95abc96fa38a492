//! Timeouts shorter than the retry backoff (E0700) and backoff bounds in the wrong order (E0701).
//!
//! *What*: the `timeout` of a route is shorter than the smallest wait before a retry of a service
//! it forwards to (`backoff MIN..MAX`, 25ms..250ms by default); a backoff whose minimum exceeds
//! its maximum (services and `deliver`).
//! *Why*: the route's timeout is the whole request's deadline and a retry that cannot start
//! before it is not made, so no retry ever runs for this route: the `retry` line is dead and
//! failures go straight to the client — or the units are mixed up (`250ms` vs `250s`). A
//! service's own `timeout` bounds each try only, so it may be shorter than the backoff.
//! *Example*: `route r { … forward picard timeout 20ms }` with `service picard { retry 3 backoff 25ms..250ms }`.

use crate::diagnostics::Diagnostic;
use crate::emit::DEFAULT_BACKOFF_MS;
use crate::resolve::Program;
use crate::source::{Span, Spanned};
use crate::syntax::ast;

use super::{BACKOFF_REVERSED, TIMEOUT_SHORTER_THAN_BACKOFF};

/// The smallest retry wait of a service that retries, with the span that sets it.
fn first_backoff(service: &ast::Service) -> Option<(u64, Span)> {
    let retry = service.retry().filter(|r| r.attempts.node > 0)?;
    Some(match &retry.backoff {
        Some(backoff) => (backoff.min.node.millis, backoff.min.span),
        None => (DEFAULT_BACKOFF_MS.0, retry.span),
    })
}

fn too_short(timeout: &Spanned<ast::Duration>, backoff: (u64, Span), whose: &str) -> Diagnostic {
    Diagnostic::error(&TIMEOUT_SHORTER_THAN_BACKOFF, format!("{whose} timeout ({}ms) is shorter than the first retry backoff ({}ms)", timeout.node.millis, backoff.0))
        .with_label(timeout.span, "the request gives up here")
        .with_label(backoff.1, "before the first retry may start")
        .with_help("the route's timeout bounds every retry: lengthen it or shorten the backoff (check the units)")
}

/// Every timeout no retry fits into, and every reversed backoff.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for service in &program.services {
        if let Some(backoff) = service.retry().and_then(|r| r.backoff.as_ref()) {
            out.extend(reversed(backoff));
        }
    }
    for (_, route) in program.routes() {
        let Some(forward) = route.forward() else {
            continue;
        };
        let Some(timeout) = route.statements.iter().find_map(|s| match s {
            ast::RouteStatement::Timeout(t) => Some(t),
            _ => None,
        }) else {
            continue;
        };
        let mut seen = std::collections::HashSet::new();
        for target in forward
            .targets
            .iter()
            .filter(|t| seen.insert(t.service.node.as_str()))
        {
            let Some(backoff) = program
                .service(&target.service.node)
                .and_then(first_backoff)
            else {
                continue;
            };
            if timeout.node.millis < backoff.0 {
                out.push(too_short(
                    timeout,
                    backoff,
                    &format!("route `{}`'s", route.name.node),
                ));
            }
        }
    }
    for stream in &program.streams {
        if let Some(backoff) = stream.deliver().and_then(|d| d.backoff.as_ref()) {
            out.extend(reversed(backoff));
        }
    }
    out
}

fn reversed(backoff: &ast::Backoff) -> Option<Diagnostic> {
    (backoff.min.node.millis > backoff.max.node.millis).then(|| {
        Diagnostic::error(
            &BACKOFF_REVERSED,
            format!(
                "backoff minimum {}ms exceeds its maximum {}ms",
                backoff.min.node.millis, backoff.max.node.millis
            ),
        )
        .with_label(backoff.min.span, "minimum")
        .with_label(backoff.max.span, "maximum")
        .with_help("write the bounds as MIN..MAX")
    })
}
