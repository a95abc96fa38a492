//! The record stage of a sidecar's chains: what happened to one mesh call, counted in
//! `meshd_mesh_requests_total` and written as an access-log line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde::Serialize;

use crate::access_log::timestamp;
use crate::forward::{ForwardFailure, Forwarded};
use crate::server::error_response::json_error;
use crate::server::gateway_response::GatewayResponse;
use crate::server::request_handler::Shared;

use super::mesh_metrics::{MeshDirection, NameId};
use super::mesh_spans::export_call_spans;
use crate::trace::RequestTrace;

/// What happened to a mesh call, filled in by the stages.
#[derive(Debug, Default)]
pub struct MeshOutcome {
    /// The mesh's refusal: `x-meshwork-denied-by`'s text.
    pub denied_by: Option<String>,
    /// The upstream endpoint that answered (or was last tried).
    pub upstream: Option<Arc<str>>,
    /// The upstream's time to response head.
    pub upstream_time: Option<Duration>,
    /// Why the sidecar answered an error itself.
    pub error: Option<String>,
    /// The call's trace, when the caller sent a valid `traceparent` (sidecars continue traces,
    /// never start them).
    pub trace: Option<RequestTrace>,
    /// What a pair's `fault` lines injected: `delay`, `abort` or `delay+abort`.
    pub fault: Option<&'static str>,
}

impl MeshOutcome {
    /// Records the error and answers it with a JSON body.
    pub fn refuse(&mut self, status: StatusCode, reason: &str) -> GatewayResponse {
        self.error = Some(reason.to_string());
        json_error(status, reason, None).into()
    }

    /// Records how forwarding went (the endpoint, the upstream's time or why it failed, the
    /// trace's hop) and gives the answer: the upstream's response, or the error.
    pub fn forwarded(&mut self, forwarding: Result<Forwarded, ForwardFailure>) -> GatewayResponse {
        match forwarding {
            Ok(forwarded) => {
                if let Some(trace) = &mut self.trace {
                    trace.end_hop(forwarded.attempts);
                }
                self.upstream = Some(forwarded.endpoint);
                self.upstream_time = Some(forwarded.upstream_time);
                GatewayResponse {
                    status: forwarded.status,
                    headers: forwarded.headers,
                    body: forwarded.body,
                }
            }
            Err(failure) => self.forward_failed(&failure),
        }
    }

    /// Records a failed forward (endpoint and why) and answers it.
    pub fn forward_failed(&mut self, failure: &ForwardFailure) -> GatewayResponse {
        if let Some(trace) = &mut self.trace {
            trace.end_hop(failure.attempts);
        }
        self.upstream = failure.endpoint.clone();
        self.refuse(failure.status(), &failure.reason())
    }
}

/// Who called whom, for the record.
#[derive(Debug, Clone, Copy)]
pub struct CallSides<'a> {
    /// Inbound or outbound.
    pub direction: MeshDirection,
    /// The caller as metrics name it (a member, `unauthenticated` or `unknown`).
    pub source: &'a str,
    /// Its metric id.
    pub source_id: NameId,
    /// The caller's verified identity.
    pub source_identity: Option<&'a str>,
    /// The called service (`unknown` for a name the mesh does not have).
    pub destination: &'a str,
    /// Its metric id.
    pub destination_id: NameId,
}

/// The request line of the record.
#[derive(Debug, Clone, Copy)]
pub struct CallLine<'a> {
    /// The method.
    pub method: &'a str,
    /// The path as received.
    pub path: &'a str,
    /// The response status.
    pub status: u16,
    /// When the request head was read (`None` when the access log is off).
    pub started: Option<Instant>,
}

/// One mesh call as logged.
#[derive(Debug, Serialize)]
struct MeshAccessRecord<'a> {
    time: &'a str,
    direction: &'a str,
    source: &'a str,
    source_identity: Option<&'a str>,
    destination: &'a str,
    method: &'a str,
    path: &'a str,
    status: u16,
    duration_ms: f64,
    upstream: Option<&'a str>,
    upstream_ms: Option<f64>,
    denied_by: Option<&'a str>,
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fault: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    span_id: Option<String>,
}

/// Counts the call and, when the access log is on, writes its line.
pub fn record(shared: &Shared, sides: &CallSides<'_>, line: &CallLine<'_>, outcome: &MeshOutcome) {
    shared.metrics.mesh.count_call(
        sides.direction,
        sides.source_id,
        sides.destination_id,
        line.status,
    );
    if let Some(trace) = outcome.trace.as_ref().filter(|trace| trace.recording()) {
        export_call_spans(&shared.exporter, sides, line, trace, outcome);
    }
    let Some(started) = line.started else {
        return;
    };
    let millis = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let time = timestamp();
    shared.access_log.write(&MeshAccessRecord {
        time: &time,
        direction: sides.direction.as_str(),
        source: sides.source,
        source_identity: sides.source_identity,
        destination: sides.destination,
        method: line.method,
        path: line.path,
        status: line.status,
        duration_ms: millis(started.elapsed()),
        upstream: outcome.upstream.as_deref(),
        upstream_ms: outcome.upstream_time.map(millis),
        denied_by: outcome.denied_by.as_deref(),
        error: outcome.error.as_deref(),
        trace_id: outcome.trace.as_ref().map(|t| t.span.trace_id_hex()),
        span_id: outcome.trace.as_ref().map(|t| t.span.span_id_hex()),
        fault: outcome.fault,
    });
}
