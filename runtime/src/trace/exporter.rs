//! Span export off the request path: request paths put finished spans into a bounded queue
//! (`try_send`, never waiting); one background task takes them in batches (up to
//! [`MAX_BATCH`] spans, or what arrived within [`LINGER`] of the first) and POSTs each batch to
//! the collector as OTLP/HTTP protobuf. When the collector is slow or down the queue fills and
//! new spans are dropped and counted: an outage costs no request and no unbounded memory.
//!
//! Metrics: `meshd_trace_spans_exported_total` (accepted by the collector),
//! `meshd_trace_spans_failed_total` (in a batch the collector refused or did not answer within
//! [`EXPORT_TIMEOUT`]) and `meshd_trace_spans_dropped_total` (the queue was full).

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::otlp_writer::encode_batch;
use super::span::Span;

/// Spans waiting for export at most; past it new ones are dropped.
pub const QUEUE_CAPACITY: usize = 4096;
/// Spans per export request at most.
pub const MAX_BATCH: usize = 512;
/// How long the first span of a batch waits for others.
pub const LINGER: Duration = Duration::from_millis(200);
/// How long the collector has to answer one batch.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where spans go: `--otlp-endpoint http://HOST:PORT[/PATH]` (`/v1/traces` when no path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpEndpoint {
    /// `host:port`.
    pub authority: String,
    /// The request path.
    pub path: String,
}

/// Why an `--otlp-endpoint` is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--otlp-endpoint {0:?}: expected http://HOST:PORT[/PATH] (OTLP over HTTP with protobuf)")]
pub struct EndpointError(pub String);

impl OtlpEndpoint {
    /// Reads `http://host:port[/path]`.
    pub fn parse(url: &str) -> Result<OtlpEndpoint, EndpointError> {
        let refuse = || EndpointError(url.to_string());
        let rest = url.strip_prefix("http://").ok_or_else(refuse)?;
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
        })
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
    queue: Option<mpsc::Sender<Span>>,
    counters: ExportCounters,
}

impl SpanExporter {
    /// An exporter that records nothing (no `--otlp-endpoint`): sampled traces are still
    /// continued and forwarded, no span is built.
    pub fn disabled() -> SpanExporter {
        SpanExporter::default()
    }

    /// The exporter `--otlp-endpoint` asks for (its task on `runtime`, its counters registered
    /// in `metrics`), reporting as `--otlp-service-name`, else the sidecar's service, else
    /// `meshd`; a disabled one without the flag.
    pub fn from_flags(
        flags: &super::trace_args::TraceArgs,
        sidecar_service: Option<&str>,
        metrics: &crate::metrics::Metrics,
        runtime: &tokio::runtime::Handle,
    ) -> SpanExporter {
        let Some(endpoint) = flags.otlp_endpoint.clone() else {
            return SpanExporter::disabled();
        };
        let counters = ExportCounters::default();
        metrics.register(|registry| counters.register(registry));
        let service_name = flags
            .otlp_service_name
            .clone()
            .unwrap_or_else(|| sidecar_service.unwrap_or("meshd").to_string());
        SpanExporter::start(endpoint, service_name, counters, runtime)
    }

    /// An exporter to `endpoint`, its task spawned on `runtime`, reporting as `service_name`.
    pub fn start(
        endpoint: OtlpEndpoint,
        service_name: String,
        counters: ExportCounters,
        runtime: &tokio::runtime::Handle,
    ) -> SpanExporter {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        runtime.spawn(export_loop(
            receiver,
            endpoint,
            service_name,
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

    /// Queues a finished span, or drops and counts it when the queue is full.
    pub fn record(&self, span: Span) {
        if let Some(queue) = &self.queue {
            if queue.try_send(span).is_err() {
                self.counters.dropped.inc();
            }
        }
    }
}

async fn export_loop(
    mut receiver: mpsc::Receiver<Span>,
    endpoint: OtlpEndpoint,
    service_name: String,
    counters: ExportCounters,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < MAX_BATCH {
            let room = MAX_BATCH - batch.len();
            match tokio::time::timeout_at(deadline, receiver.recv_many(&mut batch, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let body = Bytes::from(encode_batch(&service_name, &batch));
        let count = batch.len() as u64;
        batch.clear();
        match tokio::time::timeout(EXPORT_TIMEOUT, post(&endpoint, body)).await {
            Ok(Ok(())) => {
                counters.exported.inc_by(count);
            }
            Ok(Err(error)) => {
                counters.failed.inc_by(count);
                tracing::debug!(%error, spans = count, "OTLP export failed");
            }
            Err(_) => {
                counters.failed.inc_by(count);
                tracing::debug!(spans = count, "OTLP collector did not answer in time");
            }
        }
    }
}

/// Why one POST failed.
#[derive(Debug, thiserror::Error)]
enum PostError {
    #[error("cannot connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("request: {0}")]
    Request(#[from] http::Error),
    #[error("the collector answered {0}")]
    Status(StatusCode),
}

async fn post(endpoint: &OtlpEndpoint, body: Bytes) -> Result<(), PostError> {
    let stream = TcpStream::connect(&endpoint.authority).await?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let connection = tokio::spawn(connection);
    let request = Request::post(&endpoint.path)
        .header(http::header::HOST, &endpoint.authority)
        .header(http::header::CONTENT_TYPE, "application/x-protobuf")
        .body(Full::new(body))?;
    let response = sender.send_request(request).await;
    let result = match response {
        Ok(response) => {
            let status = response.status();
            let _ = response.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(PostError::Status(status))
            }
        }
        Err(error) => Err(PostError::Http(error)),
    };
    drop(sender);
    connection.abort();
    result
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
    }

    #[test]
    fn endpoints_other_than_http_host_port_are_refused() {
        for bad in [
            "127.0.0.1:4318",
            "https://c:4318",
            "http://:4318",
            "http://c",
            "grpc://c:4317",
        ] {
            assert!(OtlpEndpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (queue, _receiver) = mpsc::channel(1);
        let exporter = SpanExporter {
            queue: Some(queue),
            counters: ExportCounters::default(),
        };
        let context = crate::trace::TraceContext::start(true);
        let span = || Span::ended_now(context, None, "x".into(), super::super::SpanKind::Server, 0);
        exporter.record(span());
        exporter.record(span());
        exporter.record(span());
        assert_eq!(exporter.counters.dropped.get(), 2);
    }
}
