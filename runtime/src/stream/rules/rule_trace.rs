//! A stream rule's part in the trace a record carries: when the record has a valid
//! `traceparent` (a produce route wrote it, or any traced producer), the rule's run over it is a
//! consumer span, child of the producer's; the records it writes (its target, its dead letter)
//! and the request it delivers carry the rule's span as their `traceparent`. A record without
//! one passes as before: a stream never starts a trace.

use rdkafka::message::{BorrowedHeaders, Header, Headers, OwnedHeaders};

use crate::stream::deliver::DeliverFailure;
use crate::stream::rule::StreamRule;
use crate::trace::{unix_nanos, Span, SpanExporter, SpanKind, SpanStatus, TraceContext};

/// The rule's span over one record.
#[derive(Debug)]
pub struct RuleTrace {
    span: TraceContext,
    parent: [u8; 8],
    started: u64,
    /// The record's headers with this span's `traceparent` in place of the producer's.
    pub headers: OwnedHeaders,
}

impl RuleTrace {
    /// The span, when the record carries a valid `traceparent`.
    pub fn begin(headers: Option<&BorrowedHeaders>, exporter: &SpanExporter) -> Option<RuleTrace> {
        let headers = headers?;
        let caller = headers
            .iter()
            .find(|header| header.key == "traceparent")
            .and_then(|header| header.value)
            .and_then(TraceContext::parse)?;
        let span = caller.child();
        let traceparent = span.traceparent();
        let mut rewritten = OwnedHeaders::new_with_capacity(headers.count());
        for header in headers.iter() {
            if header.key != "traceparent" {
                rewritten = rewritten.insert(header);
            }
        }
        rewritten = rewritten.insert(Header {
            key: "traceparent",
            value: Some(&traceparent[..]),
        });
        let started = if exporter.enabled() && span.sampled() {
            unix_nanos()
        } else {
            0
        };
        Some(RuleTrace {
            span,
            parent: caller.span_id,
            started,
            headers: rewritten,
        })
    }

    /// The span of the rule's delivery of this record, child of the rule's.
    pub fn deliver_hop(&self, exporter: &SpanExporter, service: &str) -> DeliverTrace {
        let span = self.span.child();
        let recording = self.started != 0;
        DeliverTrace {
            span,
            parent: self.span.span_id,
            started: if recording { unix_nanos() } else { 0 },
            exporter: recording.then(|| exporter.clone()),
            service: if recording {
                service.to_string()
            } else {
                String::new()
            },
        }
    }

    /// Reports the span (when sampled): the rule, the record's place, and what became of it
    /// (`passed`, `filtered`, or dead-lettered with why).
    pub fn finish(
        self,
        exporter: &SpanExporter,
        rule: &StreamRule,
        place: (i32, i64),
        verdict: &'static str,
        error: Option<&str>,
    ) {
        if self.started == 0 {
            return;
        }
        let mut span = Span::ended_now(
            self.span,
            Some(self.parent),
            format!("stream {}", rule.name),
            SpanKind::Consumer,
            self.started,
        )
        .with("messaging.system", "kafka")
        .with("messaging.source.name", rule.source_topic.clone())
        .with("messaging.consumer.group.name", rule.group.clone())
        .with("messaging.kafka.partition", i64::from(place.0))
        .with("messaging.kafka.offset", place.1)
        .with("meshwork.stream", rule.name.clone())
        .with("meshwork.stream.verdict", verdict);
        if let Some(error) = error {
            span.status = SpanStatus::Error(error.to_string());
        }
        exporter.record(span);
    }
}

/// A delivery's span: its context goes in the request's `traceparent`; reported when the
/// delivery ends (retries included), from the delivery task.
#[derive(Debug)]
pub struct DeliverTrace {
    span: TraceContext,
    parent: [u8; 8],
    started: u64,
    exporter: Option<SpanExporter>,
    service: String,
}

impl DeliverTrace {
    /// The `traceparent` the service receives.
    pub fn traceparent(&self) -> [u8; crate::trace::TRACEPARENT_LEN] {
        self.span.traceparent()
    }

    /// Reports the span (when sampled), failed with why when the delivery failed.
    pub fn finish(self, failure: Option<&DeliverFailure>) {
        let Some(exporter) = &self.exporter else {
            return;
        };
        let mut span = Span::ended_now(
            self.span,
            Some(self.parent),
            format!("deliver {}", self.service),
            SpanKind::Client,
            self.started,
        )
        .with("meshwork.service", self.service.clone());
        if let Some(failure) = failure {
            span.status = SpanStatus::Error(failure.to_string());
        }
        exporter.record(span);
    }
}
