//! What the two sides of a sidecar share for a `protocol tcp` service: the byte pipe between
//! two connections, and the record it leaves (`meshd_mesh_tcp_connections_total`,
//! `meshd_mesh_tcp_bytes_total`, an access-log line per connection).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::access_log::timestamp;
use crate::server::request_handler::Shared;

use super::mesh_metrics::MeshDirection;

/// Bytes read at once from each side: one full TLS record (16 KiB of plaintext), so a bulk
/// transfer is encrypted in whole records and written in as few system calls as TLS allows.
const PIPE_BUFFER: usize = 16 * 1024;

/// A stream that counts the bytes read from it.
struct Counted<S> {
    inner: S,
    read: u64,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read += (buf.filled().len() - before) as u64;
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Copies bytes both ways between the caller's side and the destination's side until both
/// directions have ended (each end's close is passed on as a half-close), or either fails. The
/// bytes carried: (to the destination, from the destination).
pub async fn pipe<C, D>(caller: C, destination: D) -> (u64, u64)
where
    C: AsyncRead + AsyncWrite + Unpin,
    D: AsyncRead + AsyncWrite + Unpin,
{
    let mut caller = Counted {
        inner: caller,
        read: 0,
    };
    let mut destination = Counted {
        inner: destination,
        read: 0,
    };
    // A reset or broken pipe ends the connection like a close; what was carried is counted.
    let _ = tokio::io::copy_bidirectional_with_sizes(
        &mut caller,
        &mut destination,
        PIPE_BUFFER,
        PIPE_BUFFER,
    )
    .await;
    (caller.read, destination.read)
}

/// How a connection to a tcp service ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOutcome {
    /// It was carried until its ends closed it.
    Closed,
    /// The mesh refused the caller.
    Denied,
    /// No endpoint (outbound) or app (inbound) could be reached.
    Failed,
}

impl TcpOutcome {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpOutcome::Closed => "closed",
            TcpOutcome::Denied => "denied",
            TcpOutcome::Failed => "failed",
        }
    }
}

/// One connection to a tcp service, as recorded.
#[derive(Debug)]
pub struct TcpRecord<'a> {
    /// Inbound (to the sidecar's service) or outbound (the app's).
    pub direction: MeshDirection,
    /// The caller, as metrics name it.
    pub source: &'a str,
    /// The caller's verified identity.
    pub source_identity: Option<&'a str>,
    /// The tcp service.
    pub destination: &'a str,
    /// How it ended.
    pub outcome: TcpOutcome,
    /// The endpoint or app connected to.
    pub upstream: Option<&'a str>,
    /// Bytes to the destination and from it.
    pub bytes: (u64, u64),
    /// The deciding rule of a refusal (`x-meshwork-denied-by`'s text for HTTP calls).
    pub denied_by: Option<&'a str>,
    /// Why it failed.
    pub error: Option<&'a str>,
    /// When it was accepted (`None` when the access log is off).
    pub started: Option<Instant>,
}

#[derive(Serialize)]
struct TcpAccessRecord<'a> {
    time: &'a str,
    direction: &'a str,
    protocol: &'static str,
    source: &'a str,
    source_identity: Option<&'a str>,
    destination: &'a str,
    outcome: &'static str,
    duration_ms: f64,
    upstream: Option<&'a str>,
    bytes_to_destination: u64,
    bytes_from_destination: u64,
    denied_by: Option<&'a str>,
    error: Option<&'a str>,
}

/// Counts the connection and, when the access log is on, writes its line.
pub fn record_tcp(shared: &Shared, record: &TcpRecord<'_>) {
    shared.metrics.mesh.count_tcp(
        record.direction,
        record.source,
        record.destination,
        record.outcome.as_str(),
        record.bytes,
    );
    let Some(started) = record.started else {
        return;
    };
    let time = timestamp();
    shared.access_log.write(&TcpAccessRecord {
        time: &time,
        direction: record.direction.as_str(),
        protocol: "tcp",
        source: record.source,
        source_identity: record.source_identity,
        destination: record.destination,
        outcome: record.outcome.as_str(),
        duration_ms: (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        upstream: record.upstream,
        bytes_to_destination: record.bytes.0,
        bytes_from_destination: record.bytes.1,
        denied_by: record.denied_by,
        error: record.error,
    });
}
