//! The spans of one traced gateway request, written once it is answered (only when its trace is
//! recorded) straight into the exporter's batch: the route's server span, admission (the
//! denial's step, rule and reason when it refused), and the upstream call or produce the request
//! made. Names and attributes are borrowed from the request, its outcome and the loaded state.

use crate::state::GatewayState;

use crate::trace::{unix_nanos, RequestTrace, SpanBatch, SpanEnd, SpanExporter, SpanKind};

use super::outcome::Outcome;
use super::record::LogLine;

/// Writes the request's spans for export.
pub fn export_request_spans(
    exporter: &SpanExporter,
    gateway: &GatewayState,
    line: &LogLine<'_>,
    trace: &RequestTrace,
    outcome: &Outcome<'_>,
) {
    let end = unix_nanos();
    exporter.write(|batch| {
        write_admission(batch, trace, outcome, end);
        write_hop(batch, line, trace, outcome, end);
        write_server(batch, gateway, line, trace, outcome, end);
    });
}

fn write_server(
    batch: &mut SpanBatch,
    gateway: &GatewayState,
    line: &LogLine<'_>,
    trace: &RequestTrace,
    outcome: &Outcome<'_>,
    end: u64,
) {
    let route = outcome.route.as_ref().map(|(name, _)| &**name);
    let name: &[&str] = match route {
        Some(route) => &[line.method, " ", route],
        None => &[line.method],
    };
    let mut server = batch.span(
        &trace.span,
        trace.parent.as_ref(),
        "",
        name,
        SpanKind::Server,
        (trace.started, end),
    );
    server.text("http.request.method", line.method);
    server.text("url.path", line.path);
    server.int("http.response.status_code", i64::from(line.status));
    server.text("meshwork.gateway", &gateway.name);
    if let Some(route) = route {
        server.text("http.route", route);
    }
    if let Some(consumer) = outcome.consumer {
        server.text("meshwork.consumer", consumer);
    }
    if let Some(fault) = outcome.fault {
        server.text("meshwork.fault", fault);
    }
    if let Some(denial) = &outcome.denial {
        server.text("meshwork.denied_by", denial.step().as_str());
    }
    // OpenTelemetry's HTTP conventions: a server span fails on 5xx only.
    server.finish(if line.status >= 500 {
        SpanEnd::Error(outcome.error.as_deref().unwrap_or(""))
    } else {
        SpanEnd::Unset
    });
}

fn write_admission(batch: &mut SpanBatch, trace: &RequestTrace, outcome: &Outcome<'_>, end: u64) {
    let (admit_start, admit_end) = trace.admission;
    if admit_start == 0 {
        return;
    }
    let admit_end = if admit_end == 0 { end } else { admit_end };
    let mut admission = batch.span(
        &trace.span.child(),
        Some(&trace.span.span_id),
        "",
        &["admission"],
        SpanKind::Internal,
        (admit_start, admit_end),
    );
    let Some(denial) = &outcome.denial else {
        admission.finish(SpanEnd::Unset);
        return;
    };
    let source = denial.source();
    admission.text("meshwork.denied_by", denial.step().as_str());
    admission.text("meshwork.denial.reason", &denial.reason);
    admission.text(
        "meshwork.denial.source",
        &format!("{}:{}:{}", source.file, source.line, source.column),
    );
    admission.int(
        "http.response.status_code",
        i64::from(denial.status.as_u16()),
    );
    admission.finish(SpanEnd::Error(&denial.reason));
}

fn write_hop(
    batch: &mut SpanBatch,
    line: &LogLine<'_>,
    trace: &RequestTrace,
    outcome: &Outcome<'_>,
    end: u64,
) {
    let Some(hop) = &trace.hop else {
        return;
    };
    let target = hop.target.as_deref().unwrap_or("");
    let produce = hop.kind == SpanKind::Producer;
    let verb = if produce { "produce " } else { "forward " };
    let hop_end = if hop.window.1 != 0 { hop.window.1 } else { end };
    let mut call = batch.span(
        &hop.span,
        Some(&trace.span.span_id),
        "",
        &[verb, target],
        hop.kind,
        (hop.window.0, hop_end),
    );
    if produce {
        call.text("messaging.system", "kafka");
        call.text("messaging.destination.name", target);
    } else {
        call.text("meshwork.service", target);
        call.int("meshwork.upstream.attempts", i64::from(hop.attempts));
        if let Some(endpoint) = &outcome.upstream {
            call.text("server.address", endpoint);
        }
    }
    if let Some(error) = &outcome.error {
        call.finish(SpanEnd::Error(error));
        return;
    }
    if produce || outcome.upstream_time.is_none() {
        call.finish(SpanEnd::Unset);
        return;
    }
    call.int("http.response.status_code", i64::from(line.status));
    if line.status < 500 {
        call.finish(SpanEnd::Unset);
        return;
    }
    let status = http::StatusCode::from_u16(line.status);
    let status = status.as_ref().map_or("5xx", http::StatusCode::as_str);
    call.finish(SpanEnd::Error(&format!("the upstream answered {status}")));
}
