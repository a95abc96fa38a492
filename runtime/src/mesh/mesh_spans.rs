//! The spans of one traced mesh call (the caller sent a sampled `traceparent`): the sidecar's
//! server span (`inbound SERVICE` or `outbound SERVICE`) with the mesh's denial as an error, and
//! its forward to the app or to the destination as a client span.

use crate::trace::{RequestTrace, Span, SpanExporter, SpanKind, SpanStatus};

use super::mesh_record::{CallLine, CallSides, MeshOutcome};

/// Queues the call's spans for export.
pub fn export_call_spans(
    exporter: &SpanExporter,
    sides: &CallSides<'_>,
    line: &CallLine<'_>,
    trace: &RequestTrace,
    outcome: &MeshOutcome,
) {
    let direction = sides.direction.as_str();
    let mut server = Span::ended_now(
        trace.span,
        trace.parent,
        format!("{direction} {}", sides.destination),
        SpanKind::Server,
        trace.started,
    )
    .with("http.request.method", line.method.to_string())
    .with("url.path", line.path.to_string())
    .with("http.response.status_code", i64::from(line.status))
    .with("meshwork.direction", direction)
    .with("meshwork.source", sides.source.to_string())
    .with("meshwork.destination", sides.destination.to_string());
    if let Some(denied_by) = &outcome.denied_by {
        server.set("meshwork.denied_by", denied_by.clone());
        server.status = SpanStatus::Error(format!("the mesh denies it: {denied_by}"));
    } else if line.status >= 500 {
        server.status = SpanStatus::Error(outcome.error.clone().unwrap_or_default());
    }
    if let Some(hop) = &trace.hop {
        let target = hop.target.as_deref().unwrap_or("");
        let mut call = Span::ended_now(
            hop.span,
            Some(trace.span.span_id),
            format!("forward {target}"),
            SpanKind::Client,
            hop.window.0,
        )
        .with("meshwork.service", target.to_string())
        .with("meshwork.upstream.attempts", i64::from(hop.attempts));
        if hop.window.1 != 0 {
            call.end_unix_nanos = hop.window.1;
        }
        if let Some(endpoint) = &outcome.upstream {
            call.set("server.address", endpoint.to_string());
        }
        if let Some(error) = &outcome.error {
            call.status = SpanStatus::Error(error.clone());
        }
        exporter.record(call);
    }
    exporter.record(server);
}
