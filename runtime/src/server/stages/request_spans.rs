//! The spans of one traced gateway request, built once it is answered (only when its trace is
//! recorded): the route's server span, admission (the denial's step, rule and reason when it
//! refused), and the upstream call or produce the request made.

use crate::state::GatewayState;
use std::sync::Arc;

use crate::trace::{method_value, RequestTrace, Span, SpanExporter, SpanKind, SpanStatus};

use super::outcome::Outcome;
use super::record::LogLine;

/// Queues the request's spans for export.
pub fn export_request_spans(
    exporter: &SpanExporter,
    gateway: &GatewayState,
    line: &LogLine<'_>,
    trace: &RequestTrace,
    outcome: &Outcome<'_>,
) {
    let route = outcome.route.as_ref().map(|(name, _)| name);
    let name = match route {
        Some(route) => format!("{} {route}", line.method),
        None => line.method.to_string(),
    };
    let mut server = Span::ended_now(
        trace.span,
        trace.parent,
        name,
        SpanKind::Server,
        trace.started,
    )
    .with("http.request.method", method_value(line.method))
    .with("url.path", line.path.to_string())
    .with("http.response.status_code", i64::from(line.status))
    .with("meshwork.gateway", &gateway.name);
    if let Some(route) = route {
        server.set("http.route", route);
    }
    if let Some(consumer) = outcome.consumer {
        server.set("meshwork.consumer", consumer.to_string());
    }
    if let Some(fault) = outcome.fault {
        server.set("meshwork.fault", fault);
    }
    // OpenTelemetry's HTTP conventions: a server span fails on 5xx only.
    if line.status >= 500 {
        server.status = SpanStatus::Error(outcome.error.clone().unwrap_or_default());
    }
    let end = server.end_unix_nanos;
    let (admit_start, admit_end) = trace.admission;
    if admit_start != 0 {
        let mut admission = Span::ended_now(
            trace.span.child(),
            Some(trace.span.span_id),
            "admission".to_string(),
            SpanKind::Internal,
            admit_start,
        );
        admission.end_unix_nanos = if admit_end == 0 { end } else { admit_end };
        if let Some(denial) = &outcome.denial {
            let source = denial.source();
            admission.set("meshwork.denied_by", denial.step().as_str());
            admission.set("meshwork.denial.reason", denial.reason.to_string());
            admission.set(
                "meshwork.denial.source",
                format!("{}:{}:{}", source.file, source.line, source.column),
            );
            admission.set(
                "http.response.status_code",
                i64::from(denial.status.as_u16()),
            );
            admission.status = SpanStatus::Error(denial.reason.to_string());
            server.set("meshwork.denied_by", denial.step().as_str());
        }
        exporter.record(admission);
    }
    if let Some(hop) = &trace.hop {
        let target = hop.target.clone().unwrap_or_else(|| Arc::from(""));
        let produce = hop.kind == SpanKind::Producer;
        let (name, kind) = if produce {
            (format!("produce {target}"), SpanKind::Producer)
        } else {
            (format!("forward {target}"), SpanKind::Client)
        };
        let mut call =
            Span::ended_now(hop.span, Some(trace.span.span_id), name, kind, hop.window.0);
        if hop.window.1 != 0 {
            call.end_unix_nanos = hop.window.1;
        }
        if produce {
            call.set("messaging.system", "kafka");
            call.set("messaging.destination.name", &target);
        } else {
            call.set("meshwork.service", &target);
            call.set("meshwork.upstream.attempts", i64::from(hop.attempts));
            if let Some(endpoint) = &outcome.upstream {
                call.set("server.address", endpoint);
            }
        }
        if let Some(error) = &outcome.error {
            call.status = SpanStatus::Error(error.clone());
        } else if !produce && outcome.upstream_time.is_some() {
            call.set("http.response.status_code", i64::from(line.status));
            if line.status >= 500 {
                call.status = SpanStatus::Error(format!("the upstream answered {}", line.status));
            }
        }
        exporter.record(call);
    }
    exporter.record(server);
}
