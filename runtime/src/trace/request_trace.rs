//! A request's place in its trace, decided when the request arrives: the caller's context
//! continued (its sampled flag respected), or a new trace started by the gateway's sampling
//! rate; and the context each hop meshd makes next carries (`traceparent` of an upstream
//! request or a Kafka record).

use std::sync::Arc;

use crate::forward::http1::request_encoder::HopContext;
use crate::forward::MessageHeaders;

use super::context::{sample, TraceContext};
use super::span::{unix_nanos, SpanKind};

/// One request's trace: its server span, and the times of the steps reported as child spans.
/// Timestamps are 0 when the trace is not recorded (not sampled, or no exporter).
#[derive(Debug, Clone)]
pub struct RequestTrace {
    /// The server span meshd reports for the request.
    pub span: TraceContext,
    /// The caller's span, when the request brought a valid `traceparent`.
    pub parent: Option<[u8; 8]>,
    /// Whether the caller's `tracestate` travels on (dropped when a new trace starts).
    pub keeps_state: bool,
    /// When the request arrived (0: not recorded).
    pub started: u64,
    /// When admission started and ended.
    pub admission: (u64, u64),
    /// The next hop: an upstream call or a produce.
    pub hop: Option<HopTrace>,
}

/// A call meshd makes on the request's behalf, as a child span of its server span.
#[derive(Debug, Clone)]
pub struct HopTrace {
    /// The call's span (its context is what the callee receives).
    pub span: TraceContext,
    /// What it calls (a service, a topic), when recording.
    pub target: Option<Arc<str>>,
    /// A call to a service ([`SpanKind::Client`]) or a produce ([`SpanKind::Producer`]).
    pub kind: SpanKind,
    /// When the call started and got its answer.
    pub window: (u64, u64),
    /// How many attempts it took (retries + 1).
    pub attempts: u32,
}

impl RequestTrace {
    /// The trace of a request with these headers: continued when it brings a valid
    /// `traceparent`; else started when `start_percent` is set (a gateway's `tracing` block),
    /// sampled at that rate; else `None` (a sidecar never starts a trace). `exporting` says
    /// whether a recorded trace builds spans at all.
    #[inline]
    pub fn begin(
        headers: &MessageHeaders,
        start_percent: Option<u8>,
        exporting: bool,
    ) -> Option<RequestTrace> {
        let incoming = headers.traceparent().and_then(TraceContext::parse);
        let (span, parent) = match incoming {
            Some(caller) => (caller.child(), Some(caller.span_id)),
            None => (TraceContext::start(sample(start_percent?)), None),
        };
        let started = if exporting && span.sampled() {
            unix_nanos()
        } else {
            0
        };
        Some(RequestTrace {
            span,
            parent,
            keeps_state: parent.is_some(),
            started,
            admission: (0, 0),
            hop: None,
        })
    }

    /// Whether spans are built for this request.
    #[inline]
    pub fn recording(&self) -> bool {
        self.started != 0
    }

    /// Now, when recording (else 0, without reading the clock).
    #[inline]
    pub fn now(&self) -> u64 {
        if self.recording() {
            unix_nanos()
        } else {
            0
        }
    }

    /// Starts the next hop's span (an upstream call to a service, a produce to a topic) and
    /// returns its context.
    #[inline]
    pub fn begin_hop(&mut self, target: Option<&Arc<str>>, kind: SpanKind) -> TraceContext {
        let span = self.span.child();
        let recording = self.recording();
        self.hop = Some(HopTrace {
            span,
            target: target.filter(|_| recording).cloned(),
            kind,
            window: (self.now(), 0),
            attempts: 1,
        });
        span
    }

    /// Starts an upstream call's span; what the request encoder writes into its head.
    #[inline]
    pub fn begin_call(&mut self, service: &Arc<str>) -> HopContext {
        let span = self.begin_hop(Some(service), SpanKind::Client);
        HopContext {
            traceparent: span.traceparent(),
            keep_state: self.keeps_state,
        }
    }

    /// This span as the next hop's parent, with no span of the hop's own (a mirror copy: fire
    /// and forget).
    pub fn own_context(&self) -> HopContext {
        HopContext {
            traceparent: self.span.traceparent(),
            keep_state: self.keeps_state,
        }
    }

    /// Ends the hop's span after `attempts` attempts.
    #[inline]
    pub fn end_hop(&mut self, attempts: u32) {
        let now = self.now();
        if let Some(hop) = &mut self.hop {
            hop.window.1 = now;
            hop.attempts = attempts;
        }
    }
}
