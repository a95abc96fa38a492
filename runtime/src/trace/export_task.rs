//! The background task that sends encoded span batches to the collector: full batches as they
//! are queued, and every [`LINGER`] the batches that did not fill. Each batch is sealed with its
//! head in place (no copy) and POSTed over one kept-alive HTTP/1.1 connection (TLS for an
//! `https://` collector), opened again only after a failure or a timeout.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;

use super::exporter::{ExportCounters, ExportQueue, OtlpEndpoint, LINGER};
use super::otlp_writer::SpanBatch;

/// How long the collector has to answer one batch.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends batches until every exporter handle is gone.
pub(super) async fn export_loop(
    mut full: mpsc::Receiver<SpanBatch>,
    queue: Weak<ExportQueue>,
    endpoint: OtlpEndpoint,
    tls: Option<Arc<ClientConfig>>,
    counters: ExportCounters,
) {
    let mut collector = Collector {
        endpoint,
        tls: tls.map(TlsConnector::from),
        connection: None,
    };
    let mut linger = tokio::time::interval(LINGER);
    linger.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let batches = tokio::select! {
            batch = full.recv() => match batch {
                Some(batch) => vec![batch],
                None => return,
            },
            _ = linger.tick() => match queue.upgrade() {
                Some(queue) => queue.take_lingering(),
                None => return,
            },
        };
        for batch in batches {
            let Some(queue) = queue.upgrade() else {
                return;
            };
            collector.export(&queue, batch, &counters).await;
        }
    }
}

/// The collector and the connection kept to it.
struct Collector {
    endpoint: OtlpEndpoint,
    /// The TLS client of an `https://` collector.
    tls: Option<TlsConnector>,
    connection: Option<Connection>,
}

/// One HTTP/1.1 connection: its request side and the task driving it (stopped when dropped,
/// so a collector that hangs holds no task).
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
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
    #[error("{0:?} is not a name a TLS certificate can carry")]
    ServerName(String),
}

impl Collector {
    async fn export(
        &mut self,
        queue: &ExportQueue,
        mut batch: SpanBatch,
        counters: &ExportCounters,
    ) {
        let count = u64::from(batch.spans);
        let at = queue.frame.seal(&mut batch);
        let body = batch.into_bytes(at);
        match tokio::time::timeout(EXPORT_TIMEOUT, self.post(body)).await {
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

    /// POSTs one export request; the connection is kept only when the exchange completed (a
    /// failure or a timeout drops it, and the next batch connects again).
    async fn post(&mut self, body: Bytes) -> Result<(), PostError> {
        let mut connection = match self.connection.take() {
            Some(mut open) => match open.sender.ready().await {
                Ok(()) => open,
                Err(_) => self.connect().await?,
            },
            None => self.connect().await?,
        };
        let request = Request::post(&self.endpoint.path)
            .header(http::header::HOST, &self.endpoint.authority)
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(body))?;
        let response = connection.sender.send_request(request).await?;
        let status = response.status();
        response.into_body().collect().await?;
        self.connection = Some(connection);
        if status.is_success() {
            Ok(())
        } else {
            Err(PostError::Status(status))
        }
    }

    async fn connect(&self) -> Result<Connection, PostError> {
        let stream = TcpStream::connect(&self.endpoint.authority).await?;
        let _ = stream.set_nodelay(true);
        match &self.tls {
            Some(tls) => {
                let host = self.endpoint.host();
                let name = ServerName::try_from(host.to_owned())
                    .map_err(|_| PostError::ServerName(host.to_owned()))?;
                open(tls.connect(name, stream).await?).await
            }
            None => open(stream).await,
        }
    }
}

/// Starts HTTP/1.1 on an open stream (plain or TLS) and the task driving it.
async fn open<S>(stream: S) -> Result<Connection, PostError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Connection { sender, driver })
}
