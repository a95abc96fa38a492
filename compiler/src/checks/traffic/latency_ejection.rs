//! Latency detectors that eject healthy endpoints (E0255, W0255) or can never eject (W0256).
//!
//! *What*: `circuit_breaker { latency FACTORx … }` ejects an endpoint whose mean latency over an
//! interval is more than FACTOR times the median of its peers'. A factor of 1x or less is refused
//! (E0255): about half the endpoints are slower than the median at any time, so healthy ones
//! would be ejected in turn. A factor below 1.5x is reported (W0255): ordinary variation between
//! healthy endpoints (a cold cache, a garbage collection) crosses it. A service with one endpoint
//! has no peers to compare with, so its latency detector never ejects (W0256).
//! *Why*: a latency detector is meant to take out the one endpoint that is much slower than the
//! others (a noisy neighbour, a degraded disk); set too tight it churns the healthy ones, and on
//! a lone endpoint it reads as protection that does nothing.
//! *Example*: `circuit_breaker { latency 1x }`; `latency 1.2x`; `endpoints ["127.0.0.1:9101"]`
//! with `latency 3x`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::{LATENCY_FACTOR_INVALID, LATENCY_FACTOR_TIGHT, LATENCY_WITHOUT_PEERS};

/// The factor below which ordinary variation ejects healthy endpoints, in percent.
const TIGHT_FACTOR_PERCENT: u32 = 150;

/// Every latency detector that cannot do its job.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for service in &program.services {
        let Some(latency) = service.circuit_breaker().and_then(|b| b.latency.as_ref()) else {
            continue;
        };
        let factor = latency.factor_percent.node;
        let written = format!("{}.{:02}x", factor / 100, factor % 100);
        if factor <= 100 {
            out.push(
                Diagnostic::error(
                    &LATENCY_FACTOR_INVALID,
                    format!(
                        "the latency detector of `{}` would eject endpoints no slower than their peers ({written})",
                        service.name.node
                    ),
                )
                .with_label(latency.factor_percent.span, "must be more than 1x")
                .with_help("eject only an endpoint much slower than its peers: `latency 3x`"),
            );
        } else if factor < TIGHT_FACTOR_PERCENT {
            out.push(
                Diagnostic::warning(
                    &LATENCY_FACTOR_TIGHT,
                    format!(
                        "the latency detector of `{}` ejects an endpoint {written} slower than its peers: healthy endpoints vary that much",
                        service.name.node
                    ),
                )
                .with_label(latency.factor_percent.span, "below 1.5x")
                .with_help("use a factor of 2x or more (`latency 3x`), or acknowledge it with `meshc check --allow W0255`"),
            );
        }
        let endpoints = service.endpoints().map_or(0, |e| e.node.len());
        if endpoints == 1 {
            out.push(
                Diagnostic::warning(
                    &LATENCY_WITHOUT_PEERS,
                    format!(
                        "the latency detector of `{}` never ejects: its one endpoint has no peers to be compared with",
                        service.name.node
                    ),
                )
                .with_label(latency.span, "compares an endpoint with its peers")
                .with_help("list more endpoints, or bound the latency with the service's `timeout` (a timeout is a failure the other detectors count)"),
            );
        }
    }
    out
}
