//! The tunnel after a switch: bytes copied both ways between the client and the upstream, at most
//! [`super::pipe::PIPE_CHUNK`] held per direction and none while idle ([`super::pipe`]), so a
//! side that does not read stops meshd reading the other side, and TCP's own windows push back on
//! the sender (never an unbounded queue). Each side's end of stream is passed on as a half-close. The tunnel closes when both
//! directions have ended, when either side fails, or when no byte has moved either way for the
//! route's idle timeout.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

use super::pipe::Pipe;
use super::switched_response::Switched;

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
    let activity = Activity::new();
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
        let copy = copy_both_ways(&mut client_side, &mut upstream_side);
        let mut copy = std::pin::pin!(copy);
        loop {
            let wake = activity.last() + idle;
            tokio::select! {
                _ = &mut copy => break TunnelEnd::Closed,
                () = tokio::time::sleep_until(wake) => {
                    if activity.last() + idle <= Instant::now() {
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

/// Copies `a` → `b` and `b` → `a` until both directions have ended, or either fails.
async fn copy_both_ways<A, B>(a: &mut A, b: &mut B) -> std::io::Result<()>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut there, mut back) = (Pipe::default(), Pipe::default());
    let (mut there_done, mut back_done) = (false, false);
    poll_fn(|cx| {
        if !there_done {
            there_done = there
                .poll_copy(cx, Pin::new(&mut *a), Pin::new(&mut *b))?
                .is_ready();
        }
        if !back_done {
            back_done = back
                .poll_copy(cx, Pin::new(&mut *b), Pin::new(&mut *a))?
                .is_ready();
        }
        if there_done && back_done {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// When a byte last moved either way, in milliseconds since the tunnel opened (on tokio's clock,
/// so a test can run it paused).
struct Activity {
    opened: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn moved(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// One side of the tunnel: its stream, the bytes that arrived with the handshake (served before
/// the stream is read), and the tunnel's clock of last activity.
struct TunnelSide<'a, S> {
    io: &'a mut S,
    early: BytesMut,
    activity: &'a Activity,
}

impl<S> TunnelSide<'_, S> {
    fn moved(&self) {
        self.activity.moved();
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
            if this.early.is_empty() {
                // The handshake's read buffer is not kept for the tunnel's life.
                this.early = BytesMut::new();
            }
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use crate::forward::pool::PoolSettings;

    use prometheus_client::metrics::histogram::Histogram;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::forward::endpoint::Endpoint;
    use crate::forward::http1::connection::UpstreamStream;
    use crate::forward::http1::UpstreamConn;
    use crate::forward::upgrade::UpgradeMetrics;

    /// A connected pair of loopback sockets.
    async fn socket_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (far, _) = listener.accept().await.unwrap();
        (near, far)
    }

    fn switched(
        stream: TcpStream,
        early: &[u8],
        metrics: &UpgradeMetrics,
        idle: Duration,
    ) -> Switched {
        let address: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let endpoint = Arc::new(Endpoint::new(
            "127.0.0.1:1",
            address,
            PoolSettings::for_workers(1),
            Histogram::new([1.0]),
        ));
        Switched {
            upstream: UpstreamConn {
                stream: UpstreamStream::Plain(stream),
                read: BytesMut::from(early),
                reused: false,
            },
            protocol: bytes::Bytes::from_static(b"websocket"),
            lease: endpoint.lease(),
            permit: metrics.gate("edge", "chat").try_open(1).unwrap(),
            idle,
        }
    }

    #[tokio::test]
    async fn early_bytes_go_first_both_ways_and_a_close_ends_the_tunnel() {
        let (mut client, mut client_far) = socket_pair().await;
        let (upstream_near, mut upstream) = socket_pair().await;
        let metrics = UpgradeMetrics::default();
        let tunnel = switched(
            upstream_near,
            b"up-early ",
            &metrics,
            Duration::from_secs(300),
        );
        let running = tokio::spawn(async move {
            run_tunnel(
                &mut client_far,
                BytesMut::from(&b"client-early "[..]),
                tunnel,
            )
            .await
        });
        client.write_all(b"later").await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        upstream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"client-early later");
        upstream.write_all(b"reply").await.unwrap();
        upstream.shutdown().await.unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"up-early reply");
        assert_eq!(running.await.unwrap(), TunnelEnd::Closed);
        assert!(
            metrics.gate("edge", "chat").try_open(1).is_some(),
            "the place is freed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_tunnel_where_nothing_moves_is_closed_at_the_idle_timeout() {
        let (mut client, mut client_far) = socket_pair().await;
        let (upstream_near, mut upstream) = socket_pair().await;
        let metrics = UpgradeMetrics::default();
        let tunnel = switched(upstream_near, b"", &metrics, Duration::from_secs(60));
        let running =
            tokio::spawn(async move { run_tunnel(&mut client_far, BytesMut::new(), tunnel).await });
        assert_eq!(running.await.unwrap(), TunnelEnd::Idle);
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        upstream.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }
}
