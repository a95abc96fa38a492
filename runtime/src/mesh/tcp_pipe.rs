//! What the two sides of a sidecar share for a `protocol tcp` service: the byte pipe between
//! two connections, and the record it leaves (`meshd_mesh_tcp_connections_total`,
//! `meshd_mesh_tcp_bytes_total`, an access-log line per connection).
//!
//! A connection on which neither end has sent a byte for the idle timeout (`meshd sidecar
//! --tcp-idle-timeout`, one hour by default, as Envoy's `tcp_proxy`; `0s` turns it off) is closed at both ends, so
//! a peer that vanished without a FIN (a host gone, a NAT entry dropped) does not hold its
//! connections, and their drain, for ever.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::access_log::timestamp;
use crate::server::request_handler::Shared;

use super::mesh_metrics::MeshDirection;

/// Bytes read at once from each side: one full TLS record (16 KiB of plaintext), so a bulk
/// transfer is encrypted in whole records and written in as few system calls as TLS allows.
const PIPE_BUFFER: usize = 16 * 1024;

/// When either side of a pipe last gave a byte, as time since the pipe began (an atomic only
/// because the connection's task must be `Send`; both sides are polled by that one task).
struct LastActive {
    began: Instant,
    nanos: AtomicU64,
}

impl LastActive {
    fn mark(&self) {
        let nanos = u64::try_from(self.began.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.store(nanos, Ordering::Relaxed);
    }

    fn at(&self) -> Instant {
        self.began + Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

/// A stream that counts the bytes read from it and marks when it last gave any.
struct Counted<'a, S> {
    inner: S,
    read: u64,
    active: &'a LastActive,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<'_, S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.read += read as u64;
            self.active.mark();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<'_, S> {
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

/// What a pipe carried, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piped {
    /// Bytes to the destination and from it.
    pub bytes: (u64, u64),
    /// Neither end sent anything for the idle timeout, and the pipe closed both.
    pub idle: bool,
}

/// Copies bytes both ways between the caller's side and the destination's side until both
/// directions have ended (each end's close is passed on as a half-close), either fails, or
/// neither has sent a byte for `idle` (then both are dropped, which closes them; zero: never).
pub async fn pipe<C, D>(caller: C, destination: D, idle: Duration) -> Piped
where
    C: AsyncRead + AsyncWrite + Unpin,
    D: AsyncRead + AsyncWrite + Unpin,
{
    let active = LastActive {
        began: Instant::now(),
        nanos: AtomicU64::new(0),
    };
    let mut caller = Counted {
        inner: caller,
        read: 0,
        active: &active,
    };
    let mut destination = Counted {
        inner: destination,
        read: 0,
        active: &active,
    };
    let copy = tokio::io::copy_bidirectional_with_sizes(
        &mut caller,
        &mut destination,
        PIPE_BUFFER,
        PIPE_BUFFER,
    );
    let idled = async {
        if idle.is_zero() {
            return std::future::pending().await;
        }
        loop {
            let quiet_until = active.at() + idle;
            if Instant::now() >= quiet_until {
                return;
            }
            tokio::time::sleep_until(quiet_until.into()).await;
        }
    };
    // A reset or broken pipe ends the connection like a close; what was carried is counted.
    let went_idle = tokio::select! {
        _ = copy => false,
        () = idled => true,
    };
    Piped {
        bytes: (caller.read, destination.read),
        idle: went_idle,
    }
}

/// How a connection to a tcp service ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOutcome {
    /// It was carried until its ends closed it.
    Closed,
    /// Neither end sent a byte for the idle timeout; the sidecar closed it.
    Idle,
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
            TcpOutcome::Idle => "idle",
            TcpOutcome::Denied => "denied",
            TcpOutcome::Failed => "failed",
        }
    }
}

impl Piped {
    /// How the connection ended.
    pub fn outcome(self) -> TcpOutcome {
        if self.idle {
            TcpOutcome::Idle
        } else {
            TcpOutcome::Closed
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
