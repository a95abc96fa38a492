//! The spans of one traced mesh call (the caller sent a sampled `traceparent`), written straight
//! into the exporter's batch: the sidecar's server span (`inbound SERVICE` or `outbound
//! SERVICE`) with the mesh's denial as an error, and its forward to the app or to the
//! destination as a client span.

use crate::trace::{unix_nanos, RequestTrace, SpanBatch, SpanEnd, SpanExporter, SpanKind};

use super::mesh_record::{CallLine, CallSides, MeshOutcome};

/// Writes the call's spans for export.
pub fn export_call_spans(
    exporter: &SpanExporter,
    sides: &CallSides<'_>,
    line: &CallLine<'_>,
    trace: &RequestTrace,
    outcome: &MeshOutcome,
) {
    let end = unix_nanos();
    exporter.write(|batch| {
        write_call(batch, trace, outcome, end);
        write_server(batch, sides, line, trace, outcome, end);
    });
}

fn write_server(
    batch: &mut SpanBatch,
    sides: &CallSides<'_>,
    line: &CallLine<'_>,
    trace: &RequestTrace,
    outcome: &MeshOutcome,
    end: u64,
) {
    let direction = sides.direction.as_str();
    let mut server = batch.span(
        &trace.span,
        trace.parent.as_ref(),
        "",
        &[direction, " ", sides.destination],
        SpanKind::Server,
        (trace.started, end),
    );
    server.text("http.request.method", line.method);
    server.text("url.path", line.path);
    server.int("http.response.status_code", i64::from(line.status));
    server.text("meshwork.direction", direction);
    server.text("meshwork.source", sides.source);
    server.text("meshwork.destination", sides.destination);
    if let Some(denied_by) = &outcome.denied_by {
        server.text("meshwork.denied_by", denied_by);
        server.finish(SpanEnd::Error(&format!("the mesh denies it: {denied_by}")));
    } else if line.status >= 500 {
        server.finish(SpanEnd::Error(outcome.error.as_deref().unwrap_or("")));
    } else {
        server.finish(SpanEnd::Unset);
    }
}

fn write_call(batch: &mut SpanBatch, trace: &RequestTrace, outcome: &MeshOutcome, end: u64) {
    let Some(hop) = &trace.hop else {
        return;
    };
    let target = hop.target.as_deref().unwrap_or("");
    let hop_end = if hop.window.1 != 0 { hop.window.1 } else { end };
    let mut call = batch.span(
        &hop.span,
        Some(&trace.span.span_id),
        "",
        &["forward ", target],
        SpanKind::Client,
        (hop.window.0, hop_end),
    );
    call.text("meshwork.service", target);
    call.int("meshwork.upstream.attempts", i64::from(hop.attempts));
    if let Some(endpoint) = &outcome.upstream {
        call.text("server.address", endpoint);
    }
    call.finish(match &outcome.error {
        Some(error) => SpanEnd::Error(error),
        None => SpanEnd::Unset,
    });
}
