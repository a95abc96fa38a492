//! Retries asked for requests that must not be repeated (W0709).
//!
//! *What*: a route that takes POST, PATCH or CONNECT forwards to a service whose `retry` fires on
//! something that happens after the request reached the upstream (`reset`, `timeout`, a status;
//! a bare `retry N` means `[connect_failure, reset]`), and the route does not say `idempotent`.
//! Also `idempotent` on a route that does not forward (nothing is retried there).
//! *Why*: repeating a POST the upstream already processed duplicates its side effect (a second
//! payment, a second order) — the classic Envoy/Istio `retryOn: 5xx` incident. meshd never does
//! it: a non-idempotent request is retried only when its connection never opened. So the retry
//! written for the service does not apply to this route, which the author most likely expects;
//! if the upstream deduplicates (an Idempotency-Key), the route says so with `idempotent` and the
//! retries apply.
//! *Example*: `route pay { match POST "/pay" … forward payments }` with
//! `service payments { … retry 2 on [503, timeout] }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::NON_IDEMPOTENT_RETRY;

/// Methods a repeat may harm (RFC 9110 §9.2.2: not idempotent).
const NON_IDEMPOTENT: &[&str] = &["POST", "PATCH", "CONNECT"];

/// Every forward whose service would repeat a processed non-idempotent request, and every
/// `idempotent` that cannot apply.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let idempotent = route.statements.iter().find_map(|s| match s {
            ast::RouteStatement::Idempotent(span) => Some(*span),
            _ => None,
        });
        let Some(forward) = route.forward() else {
            if let Some(span) = idempotent {
                out.push(
                    Diagnostic::warning(
                        &NON_IDEMPOTENT_RETRY,
                        format!(
                            "`idempotent` has no effect on route `{}`: it does not forward",
                            route.name.node
                        ),
                    )
                    .with_label(span, "only forwarded requests are retried")
                    .with_help("remove `idempotent`"),
                );
            }
            continue;
        };
        if idempotent.is_some() {
            continue;
        }
        let Some(method) = route
            .matcher()
            .and_then(|m| m.method.as_ref())
            .filter(|m| NON_IDEMPOTENT.contains(&m.node.as_str()))
        else {
            continue;
        };
        let mut seen = Vec::new();
        for target in &forward.targets {
            let name = target.service.node.as_str();
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let Some(retry) = program
                .service(name)
                .and_then(|s| s.retry())
                .filter(|r| r.attempts.node > 0)
            else {
                continue;
            };
            let after_sent = after_sent_conditions(retry);
            if after_sent.is_empty() {
                continue;
            }
            out.push(
                Diagnostic::warning(
                    &NON_IDEMPOTENT_RETRY,
                    format!(
                        "route `{}` takes {}, which `{name}`'s retry on {} would repeat after the upstream may have processed it",
                        route.name.node,
                        method.node,
                        after_sent.join(", ")
                    ),
                )
                .with_label(method.span, format!("{} is not idempotent: a repeat can duplicate its effect", method.node))
                .with_label(retry.span, "so meshd retries these requests only when the connection never opened")
                .with_help(format!(
                    "if `{name}` deduplicates these requests (e.g. by an Idempotency-Key), mark the route `idempotent` to retry them; otherwise retry `{name}` only `on [connect_failure]`, or accept that this route is not retried"
                )),
            );
        }
    }
    out
}

/// The retry conditions that fire after the request may have reached the upstream, as written.
fn after_sent_conditions(retry: &ast::Retry) -> Vec<String> {
    if retry.on.is_empty() {
        // `retry N` alone means `[connect_failure, reset]`.
        return vec!["reset (the default)".to_string()];
    }
    retry
        .on
        .iter()
        .filter_map(|on| match on.node {
            ast::RetryOn::ConnectFailure => None,
            ast::RetryOn::Reset => Some("reset".to_string()),
            ast::RetryOn::Timeout => Some("timeout".to_string()),
            ast::RetryOn::Status(status) => Some(status.to_string()),
            // gRPC statuses are the service owner's statement that the call may be repeated
            // (gRFC A6's retryableStatusCodes), as for `idempotent` routes.
            ast::RetryOn::Grpc(_) => None,
        })
        .collect()
}
