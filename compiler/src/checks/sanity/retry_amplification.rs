//! Retries that multiply the load on a failing service (W0708).
//!
//! *What*: a service retries three times or more on failures an overloaded or failing upstream
//! produces (`reset`, `timeout`, 5xx statuses; a bare `retry N` retries resets), and has neither
//! a `circuit_breaker` nor a `health_check` to take failing endpoints out of balancing, nor a
//! retry `budget` to cap retries across requests.
//! *Why*: when the service is down or overloaded, every request becomes up to N + 1 attempts
//! exactly when the upstream can least absorb them — a retry storm that turns a brownout into an
//! outage (the Google SRE book caps a request at three attempts for this reason; Linkerd and
//! Envoy bound retries with budgets). A `budget` caps retries at a share of the requests, and
//! ejection stops the storm by failing fast once the failing endpoints are out: either will do.
//! *Example*: `service picard { endpoints […] retry 4 on [503, timeout] }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::RETRY_AMPLIFICATION;

/// Retries after the first attempt from which a service without ejection is reported.
pub const AMPLIFYING_RETRIES: u64 = 3;

/// Every service whose retries multiply the load of an outage unchecked.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for service in &program.services {
        let Some(retry) = service.retry() else {
            continue;
        };
        if retry.attempts.node < AMPLIFYING_RETRIES
            || retry.budget.is_some()
            || service.circuit_breaker().is_some()
            || service.health_check().is_some()
        {
            continue;
        }
        let overload = retry.on.is_empty()
            || retry.on.iter().any(|on| match on.node {
                ast::RetryOn::Reset | ast::RetryOn::Timeout => true,
                ast::RetryOn::Status(status) => status >= 500,
                ast::RetryOn::ConnectFailure => false,
                ast::RetryOn::Grpc(code) => matches!(code, 8 | 14),
            });
        if !overload {
            continue;
        }
        let attempts = retry.attempts.node.saturating_add(1);
        out.push(
            Diagnostic::warning(
                &RETRY_AMPLIFICATION,
                format!(
                    "when `{}` fails, every request to it becomes up to {attempts} attempts, and nothing takes failing endpoints out",
                    service.name.node
                ),
            )
            .with_label(retry.attempts.span, format!("{attempts}× the load on an outage"))
            .with_label(service.name.span, "no circuit_breaker, health_check or retry budget")
            .with_help(format!(
                "cap retries across requests with `budget 20%` on the retry line, add `circuit_breaker {{ consecutive_errors 5 eject 30s max_ejected 50% }}` (or a `health_check`) so failing endpoints are taken out and requests fail fast, or retry at most {} times",
                AMPLIFYING_RETRIES - 1
            )),
        );
    }
    out
}
