//! The tunnel after a switch: bytes copied both ways between the client and the upstream through
//! one fixed buffer per direction ([`TUNNEL_BUFFER`]), so a side that does not read stops meshd
//! reading the other side, and TCP's own windows push back on the sender (never an unbounded
//! queue). Each side's end of stream is passed on as a half-close. The tunnel closes when both
//! directions have ended, when either side fails, or when no byte has moved either way for the
//! route's idle timeout.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

use super::switched_response::Switched;
use crate::forward::clock::now_ms;

/// Bytes meshd holds per direction of a tunnel, at most.
pub const TUNNEL_BUFFER: usize = 16 * 1024;

/// How long closing a side may take (a TLS close_notify to a client that does not read).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How a tunnel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelEnd {
    /// Both sides finished (or one failed).
    Closed,
    /// No byte moved either way for the idle timeout.
    Idle,
}

/// Copies between `client` (whose early bytes, sent after its request head, are in
/// `client_early`) and the switched upstream until the tunnel ends; both sides are closed after.
pub async fn run_tunnel<C>(client: &mut C, client_early: BytesMut, switched: Switched) -> TunnelEnd
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let Switched {
        mut upstream,
        permit,
        idle,
        lease,
        ..
    } = switched;
    let activity = AtomicU64::new(now_ms());
    let upstream_early = std::mem::take(&mut upstream.read);
    let mut client_side = TunnelSide {
        io: &mut *client,
        early: client_early,
        activity: &activity,
    };
    let mut upstream_side = TunnelSide {
        io: &mut upstream.stream,
        early: upstream_early,
        activity: &activity,
    };
    let end = {
        let copy = tokio::io::copy_bidirectional_with_sizes(
            &mut client_side,
            &mut upstream_side,
            TUNNEL_BUFFER,
            TUNNEL_BUFFER,
        );
        let mut copy = std::pin::pin!(copy);
        loop {
            let seen = activity.load(Ordering::Relaxed);
            let silent = Duration::from_millis(now_ms().saturating_sub(seen));
            let wake = Instant::now() + idle.saturating_sub(silent);
            tokio::select! {
                _ = &mut copy => break TunnelEnd::Closed,
                () = tokio::time::sleep_until(wake) => {
                    let last = activity.load(Ordering::Relaxed);
                    if Duration::from_millis(now_ms().saturating_sub(last)) >= idle {
                        permit.closed_idle();
                        break TunnelEnd::Idle;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, upstream.stream.shutdown()).await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, client.shutdown()).await;
    drop(lease);
    drop(permit);
    end
}

/// One side of the tunnel: its stream, the bytes that arrived with the handshake (served before
/// the stream is read), and the tunnel's clock of last activity.
struct TunnelSide<'a, S> {
    io: &'a mut S,
    early: BytesMut,
    activity: &'a AtomicU64,
}

impl<S> TunnelSide<'_, S> {
    fn moved(&self) {
        self.activity.store(now_ms(), Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TunnelSide<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.early.is_empty() {
            let n = this.early.len().min(buf.remaining());
            buf.put_slice(&this.early[..n]);
            this.early.advance(n);
            this.moved();
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut *this.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.moved();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TunnelSide<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut *this.io).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.moved();
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().io).poll_shutdown(cx)
    }
}
