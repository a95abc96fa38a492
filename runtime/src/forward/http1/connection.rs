//! One upstream connection (plain TCP, or mutual TLS to a mesh workload) with its read buffer.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::forward::upstream_tls::{HandshakeError, UpstreamTls};

/// Read-buffer size reserved before each read.
pub const READ_CHUNK: usize = 16 * 1024;

/// TCP keepalive on upstream connections: probes after 30 s of silence, every 10 s, and the
/// connection fails after 3 unanswered (about a minute). A response streaming from a host that
/// vanished without a reset (lost power, a firewall that forgot the flow) would otherwise hold
/// its client for ever: nothing else times out a quiet body. (Go's HTTP client and curl turn
/// keepalive on by default too; HTTP/2 connections are also pinged.)
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
#[cfg(any(target_os = "linux", target_os = "android"))]
const KEEPALIVE_PROBES: u32 = 3;

/// Turns TCP keepalive on for `tcp` with the settings above.
fn keep_alive(tcp: &TcpStream) -> io::Result<()> {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let keepalive = keepalive.with_retries(KEEPALIVE_PROBES);
    socket2::SockRef::from(tcp).set_tcp_keepalive(&keepalive)
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connect failed (refused, unreachable, …).
    #[error("cannot connect: {0}")]
    Io(#[from] io::Error),
    /// The TCP connect did not finish in time.
    #[error("connect timed out after {}ms", .0.as_millis())]
    Timeout(Duration),
    /// The mutual TLS handshake failed (an impostor, an unknown CA, an expired certificate…).
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
}

/// The byte stream of an upstream connection.
#[derive(Debug)]
pub enum UpstreamStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// Mutual TLS (boxed: the TLS state is large and most connections are plain).
    Tls(Box<TlsStream<TcpStream>>),
}

impl UpstreamStream {
    fn tcp(&self) -> &TcpStream {
        match self {
            UpstreamStream::Plain(tcp) => tcp,
            UpstreamStream::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl AsyncRead for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            UpstreamStream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            UpstreamStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            UpstreamStream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            UpstreamStream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An open keep-alive connection to an upstream.
#[derive(Debug)]
pub struct UpstreamConn {
    /// The stream.
    pub stream: UpstreamStream,
    /// Bytes read and not yet consumed.
    pub read: BytesMut,
    /// Whether it has served a request before (a failure on a reused connection may be staleness).
    pub reused: bool,
}

impl UpstreamConn {
    /// Connects with `TCP_NODELAY` and TCP keepalive, then does the mutual TLS handshake when
    /// `tls` is given; the whole connect must finish within `timeout`.
    pub async fn connect(
        address: SocketAddr,
        timeout: Duration,
        tls: Option<&UpstreamTls>,
    ) -> Result<UpstreamConn, ConnectError> {
        let connect = async {
            let tcp = TcpStream::connect(address).await?;
            tcp.set_nodelay(true)?;
            keep_alive(&tcp)?;
            Ok::<_, ConnectError>(match tls {
                None => UpstreamStream::Plain(tcp),
                Some(tls) => UpstreamStream::Tls(Box::new(tls.handshake(address, tcp).await?)),
            })
        };
        let stream = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| ConnectError::Timeout(timeout))??;
        Ok(UpstreamConn {
            stream,
            read: BytesMut::with_capacity(READ_CHUNK),
            reused: false,
        })
    }

    /// Whether an idle connection still looks usable: nothing arrived on it since its last
    /// response (an upstream closing it shows as readable). Costs no system call unless the
    /// socket is flagged readable. A TLS connection that became readable while idle is given up
    /// (its bytes cannot be peeked without reading the TLS record).
    pub fn looks_alive(&self) -> bool {
        if !self.read.is_empty() {
            return false;
        }
        let tcp = self.stream.tcp();
        let mut cx = Context::from_waker(Waker::noop());
        match tcp.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Ok(())) if matches!(self.stream, UpstreamStream::Tls(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Poll::Ready(Err(_)) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_upstream_connection_is_kept_alive_by_tcp_probes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (conn, _accepted) = tokio::join!(
            UpstreamConn::connect(address, Duration::from_secs(5), None),
            listener.accept()
        );
        let conn = conn.unwrap();
        let socket = socket2::SockRef::from(conn.stream.tcp());
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
        assert_eq!(socket.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
        #[cfg(target_os = "linux")]
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
        assert!(socket.tcp_nodelay().unwrap());
    }
}
