//! Rate limits of zero (E0602).
//!
//! *What*: `rate_limit 0/…` or `burst 0`.
//! *Why*: the bucket never holds a token, so every request gets 429: a route switched off in a
//! way that looks like throttling.
//! *Example*: `rate_limit 0/min`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::ZERO_RATE_LIMIT;

/// Every zero rate or burst.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        for statement in &route.statements {
            let ast::RouteStatement::RateLimit(limit) = statement else {
                continue;
            };
            if limit.rate.node.count == 0 {
                out.push(
                    Diagnostic::error(
                        &ZERO_RATE_LIMIT,
                        format!("rate limit of 0 on route `{}`", route.name.node),
                    )
                    .with_label(limit.rate.span, "every request would get 429")
                    .with_help(
                        "give a positive rate; to close a route, remove it or `respond 403`",
                    ),
                );
            }
            if let Some(burst) = limit.burst.as_ref().filter(|b| b.node == 0) {
                out.push(
                    Diagnostic::error(&ZERO_RATE_LIMIT, "a burst of 0 admits no request")
                        .with_label(burst.span, "the bucket never holds a token")
                        .with_help("leave `burst` out (it defaults to the rate) or give 1 or more"),
                );
            }
        }
    }
    out
}
