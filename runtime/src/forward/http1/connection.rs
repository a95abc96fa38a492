//! One upstream TCP connection with its read buffer.

use std::net::SocketAddr;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;

/// Read-buffer size reserved before each read.
pub const READ_CHUNK: usize = 16 * 1024;

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connect failed (refused, unreachable, …).
    #[error("cannot connect: {0}")]
    Io(#[from] std::io::Error),
    /// The TCP connect did not finish in time.
    #[error("connect timed out after {}ms", .0.as_millis())]
    Timeout(Duration),
}

/// An open keep-alive connection to an upstream.
#[derive(Debug)]
pub struct UpstreamConn {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes read and not yet consumed.
    pub read: BytesMut,
    /// Whether it has served a request before (a failure on a reused connection may be staleness).
    pub reused: bool,
}

impl UpstreamConn {
    /// Connects with `TCP_NODELAY`.
    pub async fn connect(
        address: SocketAddr,
        timeout: Duration,
    ) -> Result<UpstreamConn, ConnectError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| ConnectError::Timeout(timeout))??;
        stream.set_nodelay(true)?;
        Ok(UpstreamConn {
            stream,
            read: BytesMut::with_capacity(READ_CHUNK),
            reused: false,
        })
    }

    /// Whether an idle connection still looks usable: nothing arrived on it since its last
    /// response (an upstream closing it shows as readable). Costs no system call unless the
    /// socket is flagged readable.
    pub fn looks_alive(&self) -> bool {
        if !self.read.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            }
            Poll::Ready(Err(_)) => false,
        }
    }
}
