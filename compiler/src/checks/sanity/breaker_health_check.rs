//! A circuit breaker that returns endpoints before the health check has looked at them (W0712).
//!
//! *What*: a service with both a `circuit_breaker` and a `health_check` ejects a failing
//! endpoint for less time (`eject`, 30 s when not written) than the health check's interval
//! (`every`).
//! *Why*: the ejected endpoint comes back into balancing before any probe has seen it recover, so
//! live requests do the probing: each return costs `consecutive_errors` failed requests and ejects
//! it again, round after round, while the health check — the signal meant to decide — still holds
//! a stale verdict. Envoy's outlier detection and active health checking are tuned together for
//! the same reason.
//! *Example*: `circuit_breaker { eject 5s } health_check GET "/healthz" every 30s`.

use crate::diagnostics::Diagnostic;
use crate::emit::DEFAULT_CIRCUIT_BREAKER;
use crate::resolve::Program;

use super::EJECT_SHORTER_THAN_PROBE;

/// Every breaker whose ejection ends before the next probe.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for service in &program.services {
        let (Some(breaker), Some(check)) = (service.circuit_breaker(), service.health_check())
        else {
            continue;
        };
        let eject = breaker
            .eject
            .as_ref()
            .map_or(DEFAULT_CIRCUIT_BREAKER.1, |d| d.node.millis);
        let every = check.every.node.millis;
        if eject >= every {
            continue;
        }
        let errors = breaker
            .consecutive_errors
            .as_ref()
            .map_or(DEFAULT_CIRCUIT_BREAKER.0, |n| n.node);
        out.push(
            Diagnostic::warning(
                &EJECT_SHORTER_THAN_PROBE,
                format!(
                    "`{}` ejects a failing endpoint for {eject}ms but probes it only every {every}ms: it returns before any probe has seen it recover",
                    service.name.node
                ),
            )
            .with_label(
                breaker.eject.as_ref().map_or(breaker.span, |d| d.span),
                format!("back after {eject}ms, costing {errors} failed requests each time"),
            )
            .with_label(check.every.span, "the next probe")
            .with_help(format!(
                "eject for at least the probe interval (`eject {}`) so the health check decides when the endpoint returns",
                human_duration(every)
            )),
        );
    }
    out
}

/// `30s`, `1500ms`, `5m`: the shortest exact way to write a duration.
fn human_duration(millis: u64) -> String {
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if millis >= size && millis % size == 0 {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}
