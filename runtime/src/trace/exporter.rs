//! Span export off the request path. A request path writes its spans, already encoded as
//! OTLP protobuf, into a batch of its own shard (one per core, picked once per thread: a lock
//! nobody else takes, no allocation, no copy later). A full batch ([`MAX_BATCH`] spans) goes
//! whole into a bounded queue (`try_send`, never waiting); one background task POSTs each batch
//! to the collector over one kept-alive connection, and every [`LINGER`] also takes the batches
//! that did not fill. When the collector is slow or down the queue fills and the batches that
//! do not fit are dropped and their spans counted: an outage costs no request and no unbounded
//! memory (at most `(QUEUE_BATCHES + 1 + shards) × MAX_BATCH` spans wait).
//!
//! Metrics: `meshd_trace_spans_exported_total` (accepted by the collector),
//! `meshd_trace_spans_failed_total` (in a batch the collector refused or did not answer within
//! [`EXPORT_TIMEOUT`](super::export_task::EXPORT_TIMEOUT)) and `meshd_trace_spans_dropped_total`
//! (the queue was full).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;
use tokio_rustls::rustls::ClientConfig;

use super::export_task::export_loop;
use super::otlp_writer::{BatchFrame, SpanBatch};
use super::span::Span;
use crate::load::remote::{tls_client_config, TlsClientError};

/// Full batches waiting for export at most; past it new ones are dropped.
pub const QUEUE_BATCHES: usize = 6;
/// Spans per export request at most.
pub const MAX_BATCH: u32 = 512;
/// Bytes per export request at most (a batch of long spans leaves before it has 512).
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// How long a span waits in a batch that does not fill.
pub const LINGER: Duration = Duration::from_millis(200);
/// The buffer a new batch is allocated with: [`MAX_BATCH`] spans of a proxied request (~240
/// bytes each) fit without a reallocation.
const BATCH_CAPACITY: usize = 160 << 10;

/// Where spans go: `--otlp-endpoint http[s]://HOST:PORT[/PATH]` (`/v1/traces` when no path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpEndpoint {
    /// `host:port`.
    pub authority: String,
    /// The request path.
    pub path: String,
    /// Whether the collector is reached over TLS (`https://`).
    pub tls: bool,
}

/// Why an `--otlp-endpoint` is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "--otlp-endpoint {0:?}: expected http://HOST:PORT[/PATH] or https://HOST:PORT[/PATH] (OTLP over HTTP with protobuf)"
)]
pub struct EndpointError(pub String);

impl OtlpEndpoint {
    /// Reads `http://host:port[/path]` or `https://host:port[/path]`.
    pub fn parse(url: &str) -> Result<OtlpEndpoint, EndpointError> {
        let refuse = || EndpointError(url.to_string());
        let (rest, tls) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (rest, false),
            (None, Some(rest)) => (rest, true),
            (None, None) => return Err(refuse()),
        };
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        let port_ok = authority
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(refuse());
        }
        let path = match path {
            "" | "/" => "/v1/traces".to_string(),
            path => path.to_string(),
        };
        Ok(OtlpEndpoint {
            authority: authority.to_string(),
            path,
            tls,
        })
    }

    /// The host part (the name a TLS certificate must carry), without IPv6 brackets.
    pub fn host(&self) -> &str {
        let host = self
            .authority
            .rsplit_once(':')
            .map_or(&*self.authority, |(host, _)| host);
        host.trim_start_matches('[').trim_end_matches(']')
    }
}

/// The export counters.
#[derive(Debug, Clone, Default)]
pub struct ExportCounters {
    /// Spans the collector accepted.
    pub exported: Counter,
    /// Spans in batches the collector refused or did not answer.
    pub failed: Counter,
    /// Spans dropped because the queue was full.
    pub dropped: Counter,
}

impl ExportCounters {
    /// Registers the three counters.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "meshd_trace_spans_exported",
            "Spans the OTLP collector accepted",
            self.exported.clone(),
        );
        registry.register(
            "meshd_trace_spans_failed",
            "Spans in batches the OTLP collector refused or did not answer in time",
            self.failed.clone(),
        );
        registry.register(
            "meshd_trace_spans_dropped",
            "Spans dropped because the export queue was full (a slow or absent collector)",
            self.dropped.clone(),
        );
    }
}

/// The request paths' side of the exporter: cheap to clone, never blocks.
#[derive(Debug, Clone, Default)]
pub struct SpanExporter {
    queue: Option<Arc<ExportQueue>>,
    counters: ExportCounters,
}

/// The shards request paths write into and the queue of full batches.
#[derive(Debug)]
pub(super) struct ExportQueue {
    shards: Box<[Mutex<SpanBatch>]>,
    /// The head every batch is sealed with.
    pub(super) frame: BatchFrame,
    full: mpsc::Sender<SpanBatch>,
}

/// The shard of the current thread: threads are numbered once, in the order they first write.
fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.with(|number| *number)
}

impl ExportQueue {
    fn new(service_name: &str, shards: usize, full: mpsc::Sender<SpanBatch>) -> ExportQueue {
        let frame = BatchFrame::new(service_name);
        let shards = (0..shards.max(1))
            .map(|_| Mutex::new(SpanBatch::new(frame.room(), BATCH_CAPACITY)))
            .collect();
        ExportQueue {
            shards,
            frame,
            full,
        }
    }

    fn fresh_batch(&self) -> SpanBatch {
        SpanBatch::new(self.frame.room(), BATCH_CAPACITY)
    }

    /// Takes every batch holding spans (the export task, each [`LINGER`]).
    pub(super) fn take_lingering(&self) -> Vec<SpanBatch> {
        let mut taken = Vec::new();
        for shard in self.shards.iter() {
            let mut batch = shard.lock().unwrap_or_else(PoisonError::into_inner);
            if !batch.is_empty() {
                taken.push(std::mem::replace(&mut *batch, self.fresh_batch()));
            }
        }
        taken
    }
}

impl SpanExporter {
    /// An exporter that records nothing (no `--otlp-endpoint`): sampled traces are still
    /// continued and forwarded, no span is built.
    pub fn disabled() -> SpanExporter {
        SpanExporter::default()
    }

    /// The exporter `--otlp-endpoint` asks for (its task on `runtime`, its counters registered
    /// in `metrics`), reporting as `--otlp-service-name`, else the sidecar's service, else
    /// `meshd`; a disabled one without the flag. An `https://` collector is verified against
    /// `--otlp-ca`, else the system's roots: refused when they cannot be read.
    pub fn from_flags(
        flags: &super::trace_args::TraceArgs,
        sidecar_service: Option<&str>,
        metrics: &crate::metrics::Metrics,
        runtime: &tokio::runtime::Handle,
    ) -> Result<SpanExporter, TlsClientError> {
        let Some(endpoint) = flags.otlp_endpoint.clone() else {
            return Ok(SpanExporter::disabled());
        };
        let tls = match endpoint.tls {
            true => Some(tls_client_config(flags.otlp_ca.as_deref())?),
            false => None,
        };
        let counters = ExportCounters::default();
        metrics.register(|registry| counters.register(registry));
        let service_name = flags
            .otlp_service_name
            .clone()
            .unwrap_or_else(|| sidecar_service.unwrap_or("meshd").to_string());
        Ok(SpanExporter::start(
            endpoint,
            tls,
            &service_name,
            counters,
            runtime,
        ))
    }

    /// An exporter to `endpoint` (over TLS with `tls` for an `https://` one), its task spawned
    /// on `runtime`, reporting as `service_name`.
    pub fn start(
        endpoint: OtlpEndpoint,
        tls: Option<Arc<ClientConfig>>,
        service_name: &str,
        counters: ExportCounters,
        runtime: &tokio::runtime::Handle,
    ) -> SpanExporter {
        let (full, receiver) = mpsc::channel(QUEUE_BATCHES);
        let shards = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(64);
        let queue = Arc::new(ExportQueue::new(service_name, shards, full));
        runtime.spawn(export_loop(
            receiver,
            Arc::downgrade(&queue),
            endpoint,
            tls,
            counters.clone(),
        ));
        SpanExporter {
            queue: Some(queue),
            counters,
        }
    }

    /// Whether spans are exported (else callers skip building them).
    #[inline]
    pub fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Writes spans into this thread's batch with `write`; a batch that fills goes to the
    /// export queue, or is dropped and counted when the queue is full.
    #[inline]
    pub fn write(&self, write: impl FnOnce(&mut SpanBatch)) {
        let Some(queue) = &self.queue else {
            return;
        };
        let shard = &queue.shards[thread_number() % queue.shards.len()];
        let full = {
            let mut batch = shard.lock().unwrap_or_else(PoisonError::into_inner);
            write(&mut batch);
            (batch.spans >= MAX_BATCH || batch.len() >= MAX_BATCH_BYTES)
                .then(|| std::mem::replace(&mut *batch, queue.fresh_batch()))
        };
        if let Some(batch) = full {
            if let Err(refused) = queue.full.try_send(batch) {
                let batch = match refused {
                    mpsc::error::TrySendError::Full(batch)
                    | mpsc::error::TrySendError::Closed(batch) => batch,
                };
                self.counters.dropped.inc_by(u64::from(batch.spans));
            }
        }
    }

    /// Queues a finished span (the paths that build one), or drops and counts it with its
    /// batch when the queue is full.
    pub fn record(&self, span: Span) {
        self.write(|batch| batch.write(&span));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_without_a_path_posts_to_v1_traces() {
        let endpoint = OtlpEndpoint::parse("http://127.0.0.1:4318").unwrap();
        assert_eq!(endpoint.authority, "127.0.0.1:4318");
        assert_eq!(endpoint.path, "/v1/traces");
        let endpoint = OtlpEndpoint::parse("http://collector:4318/custom/traces").unwrap();
        assert_eq!(endpoint.path, "/custom/traces");
        assert!(!endpoint.tls);
        let endpoint = OtlpEndpoint::parse("https://collector.example:443").unwrap();
        assert!(endpoint.tls);
        assert_eq!(endpoint.host(), "collector.example");
        assert_eq!(endpoint.path, "/v1/traces");
    }

    #[test]
    fn endpoints_other_than_http_host_port_are_refused() {
        for bad in [
            "127.0.0.1:4318",
            "http://:4318",
            "http://c",
            "grpc://c:4317",
        ] {
            assert!(OtlpEndpoint::parse(bad).is_err(), "{bad}");
        }
    }

    fn exporter(queued_batches: usize) -> (SpanExporter, mpsc::Receiver<SpanBatch>) {
        let (full, receiver) = mpsc::channel(queued_batches);
        let exporter = SpanExporter {
            queue: Some(Arc::new(ExportQueue::new("meshd", 1, full))),
            counters: ExportCounters::default(),
        };
        (exporter, receiver)
    }

    fn span() -> Span {
        let context = crate::trace::TraceContext::start(true);
        Span::ended_now(context, None, "x".into(), super::super::SpanKind::Server, 0)
    }

    #[test]
    fn a_full_batch_is_queued_whole_and_a_full_queue_drops_its_spans_and_counts_them() {
        let (exporter, mut receiver) = exporter(1);
        for _ in 0..3 * MAX_BATCH + 1 {
            exporter.record(span());
        }
        let queued = receiver.try_recv().unwrap();
        assert_eq!(queued.spans, MAX_BATCH);
        assert!(receiver.try_recv().is_err(), "one batch fits the queue");
        assert_eq!(exporter.counters.dropped.get(), 2 * u64::from(MAX_BATCH));
        let queue = exporter.queue.as_ref().unwrap();
        let lingering = queue.take_lingering();
        assert_eq!(lingering.iter().map(|b| b.spans).collect::<Vec<_>>(), [1]);
        assert!(queue.take_lingering().is_empty(), "taken once");
    }

    #[test]
    fn a_sealed_batch_decodes_with_every_span() {
        use prost::Message;
        let (exporter, _receiver) = exporter(1);
        for _ in 0..3 {
            exporter.record(span());
        }
        let queue = exporter.queue.as_ref().unwrap();
        let mut batch = queue.take_lingering().pop().unwrap();
        let at = queue.frame.seal(&mut batch);
        let request =
            super::super::otlp::ExportTraceServiceRequest::decode(batch.into_bytes(at)).unwrap();
        assert_eq!(request.resource_spans[0].scope_spans[0].spans.len(), 3);
    }
}
