//! Circuit breakers that can never eject (W0710) or can eject every endpoint (W0711).
//!
//! *What*: meshd ejects an endpoint only while at most `max_ejected` percent of the service's
//! endpoints are out, rounded down (10% when not written). With fewer endpoints than that share
//! allows one of, the breaker never ejects anything: `max_ejected 10%` (the default) with up to
//! nine endpoints, or any share below 100% with one endpoint. With `max_ejected 100%` it can eject
//! every endpoint, and the service then answers nothing but 503 for the whole `eject` time, even
//! after the endpoints recover.
//! *Why*: the first is a breaker that looks configured and never trips — failing endpoints keep
//! their share of the traffic; the second turns a partial failure into a full outage (Envoy
//! keeps routing to all endpoints past its panic threshold for this reason).
//! *Example*: `service riker { endpoints ["127.0.0.1:9103"] circuit_breaker { consecutive_errors 5 } }`.

use crate::diagnostics::Diagnostic;
use crate::emit::DEFAULT_CIRCUIT_BREAKER;
use crate::resolve::Program;

use super::{BREAKER_EJECTS_ALL, BREAKER_NEVER_EJECTS};

/// Every breaker whose `max_ejected` makes it dead or total.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for service in &program.services {
        let Some(breaker) = service.circuit_breaker() else {
            continue;
        };
        if breaker.limits_requests_only() {
            continue; // Written for `max_requests`: whether it ejects is not what it asks.
        }
        let Some(endpoints) = service.endpoints().filter(|e| !e.node.is_empty()) else {
            continue; // No endpoints at all is E0703.
        };
        let count = endpoints.node.len() as u64;
        let percent = breaker
            .max_ejected
            .as_ref()
            .map_or(DEFAULT_CIRCUIT_BREAKER.2, |p| p.node.value);
        let ejectable = u64::from(percent) * count / 100;
        let where_ = breaker
            .max_ejected
            .as_ref()
            .map_or(breaker.span, |p| p.span);
        let share = if breaker.max_ejected.is_some() {
            format!("max_ejected {percent}%")
        } else {
            format!("the default max_ejected {percent}%")
        };
        let plural = if count == 1 { "" } else { "s" };
        if ejectable == 0 {
            let help = if count == 1 {
                "a breaker needs another endpoint to send the traffic to: list more endpoints, or let a `health_check` take the one endpoint out".to_string()
            } else {
                format!(
                    "allow at least one endpoint out: `max_ejected {}%`",
                    100u64.div_ceil(count)
                )
            };
            out.push(
                Diagnostic::warning(
                    &BREAKER_NEVER_EJECTS,
                    format!(
                        "the circuit breaker of `{}` can never eject: {share} of {count} endpoint{plural} is less than one",
                        service.name.node
                    ),
                )
                .with_label(where_, "rounds down to 0 endpoints")
                .with_label(endpoints.span, format!("{count} endpoint{plural}"))
                .with_help(help),
            );
        } else if ejectable >= count {
            let eject = breaker
                .eject
                .as_ref()
                .map_or(DEFAULT_CIRCUIT_BREAKER.1, |d| d.node.millis);
            out.push(
                Diagnostic::warning(
                    &BREAKER_EJECTS_ALL,
                    format!(
                        "the circuit breaker of `{}` can eject {}: every request then gets 503 for {eject}ms",
                        service.name.node,
                        if count == 1 { "its only endpoint".to_string() } else { format!("all {count} endpoints") }
                    ),
                )
                .with_label(where_, "nothing stays in")
                .with_label(endpoints.span, format!("{count} endpoint{plural}"))
                .with_help(if count == 1 {
                    "with one endpoint, ejecting it is an outage: list more endpoints, or drop the breaker and let a `health_check` judge the endpoint".to_string()
                } else {
                    format!(
                        "keep at least one endpoint in: `max_ejected {}%`",
                        (count - 1) * 100 / count
                    )
                }),
            );
        }
    }
    out
}
