//! Distributed tracing: W3C trace context kept, continued or started on every hop meshd makes
//! (gateway forward, sidecar inbound and outbound, mirror, Kafka produce, stream rules, deliver),
//! and the spans of sampled traces exported over OTLP/HTTP in batches off the request path.
//!
//! Spans meshd reports: the route (server span, `METHOD route`), admission (internal, the
//! denial's step and reason as attributes and error status), the upstream call (client span; one
//! per call, with `meshwork.upstream.attempts` counting retries, since the head sent upstream —
//! and so its `traceparent` — is encoded once for all attempts), produce (producer span whose
//! context goes into the record's `traceparent` header), one consumer span per stream rule
//! (whose context goes into the records it writes, dead letters too) and deliver (client span).

pub mod context;
pub mod export_task;
pub mod exporter;
#[cfg(test)]
pub mod otlp;
pub mod otlp_writer;
pub mod request_trace;
pub mod span;
pub mod trace_args;

pub use context::{sample, TraceContext, TRACEPARENT_LEN};
pub use exporter::{EndpointError, ExportCounters, OtlpEndpoint, SpanExporter};
pub use otlp_writer::{SpanBatch, SpanEnd, SpanWriter};
pub use request_trace::{HopTrace, RequestTrace};
pub use span::{method_value, unix_nanos, AttributeValue, Span, SpanKind, SpanStatus};
pub use trace_args::TraceArgs;
