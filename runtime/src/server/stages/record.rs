//! The last stage of the gateway chain: count the request and write its access-log line.

use std::time::{Duration, Instant};

use crate::access_log::{timestamp, AccessRecord, DenialRecord};
use crate::admit::Denial;
use crate::server::request_handler::Shared;
use crate::state::GatewayState;

use super::outcome::Outcome;
use super::request_spans::export_request_spans;

/// The request line of an access log record.
#[derive(Debug, Clone, Copy)]
pub struct LogLine<'a> {
    /// The method.
    pub method: &'a str,
    /// The path as received.
    pub path: &'a str,
    /// The response status.
    pub status: u16,
    /// When the request head was read (`None` when the access log is off).
    pub started: Option<Instant>,
}

/// Counts the request and, when the access log is on, writes its line.
#[inline(always)]
pub fn record(shared: &Shared, gateway: &GatewayState, line: &LogLine<'_>, outcome: &Outcome<'_>) {
    let route_id = outcome
        .route
        .as_ref()
        .map_or(gateway.unmatched_metric_id, |(_, id)| *id);
    let denied_by = outcome.denial.as_ref().map_or("", |d| d.step().as_str());
    shared
        .metrics
        .requests
        .count(route_id, line.status, denied_by);
    if let Some(started) = line.started {
        write_access_log(shared, gateway, line, started, outcome);
    }
    if let Some(trace) = outcome.trace.as_ref().filter(|trace| trace.recording()) {
        export_request_spans(&shared.exporter, gateway, line, trace, outcome);
    }
}

fn write_access_log(
    shared: &Shared,
    gateway: &GatewayState,
    line: &LogLine<'_>,
    started: Instant,
    outcome: &Outcome<'_>,
) {
    let time = timestamp();
    let millis = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let denial_source = outcome.denial.as_ref().map_or_else(String::new, |denial| {
        let source = denial.source();
        format!("{}:{}:{}", source.file, source.line, source.column)
    });
    shared.access_log.write(&AccessRecord {
        time: &time,
        gateway: &gateway.name,
        route: outcome.route.as_ref().map(|(name, _)| &**name),
        consumer: outcome
            .consumer
            .or_else(|| outcome.denial.as_ref().and_then(Denial::consumer)),
        method: line.method,
        path: line.path,
        status: line.status,
        duration_ms: millis(started.elapsed()),
        upstream: outcome.upstream.as_deref(),
        upstream_ms: outcome.upstream_time.map(millis),
        denial: outcome
            .denial
            .as_ref()
            .map(|denial| DenialRecord {
                step: denial.step().as_str(),
                source: &denial_source,
                reason: &denial.reason,
            })
            .or_else(|| {
                outcome
                    .upgrade_refusal
                    .as_ref()
                    .map(|refusal| DenialRecord {
                        step: refusal.step,
                        source: &refusal.source,
                        reason: &refusal.reason,
                    })
            }),
        error: outcome.error.as_deref(),
        fault: outcome.fault,
        trace_id: outcome.trace.as_ref().map(|t| t.span.trace_id_hex()),
        span_id: outcome.trace.as_ref().map(|t| t.span.span_id_hex()),
    });
}
