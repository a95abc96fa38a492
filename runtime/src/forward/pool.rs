//! A lean per-endpoint pool of idle keep-alive HTTP/1.1 connections, one list per worker thread so
//! a connection is only ever used by the thread whose runtime drives it (no cross-thread wake-ups).

use std::sync::Mutex;
use std::time::Duration;

use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::request_body::RequestBody;
use super::worker_slot::current_slot;

/// The sending half of one upstream connection.
pub type Sender = SendRequest<RequestBody>;

/// Idle connections kept per worker and endpoint; more are closed when they come back.
const MAX_IDLE_PER_WORKER: usize = 512;

/// Why a new upstream connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connect failed (refused, unreachable, …).
    #[error("cannot connect: {0}")]
    Io(#[from] std::io::Error),
    /// The TCP connect did not finish in time.
    #[error("connect timed out after {0:?}")]
    Timeout(Duration),
    /// The HTTP/1.1 handshake failed.
    #[error("HTTP handshake failed: {0}")]
    Handshake(#[from] hyper::Error),
}

/// Idle connections to one endpoint, per worker.
#[derive(Debug)]
pub struct ConnectionPool {
    idle: Box<[Mutex<Vec<Sender>>]>,
}

impl ConnectionPool {
    /// A pool with one idle list per worker plus one shared by other threads.
    pub fn new(workers: usize) -> Self {
        ConnectionPool {
            idle: (0..=workers).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    fn slot(&self) -> &Mutex<Vec<Sender>> {
        &self.idle[current_slot(self.idle.len())]
    }

    /// The most recently used idle connection of this thread that is still open, if any.
    pub fn take_idle(&self) -> Option<Sender> {
        let mut idle = self.slot().lock().unwrap_or_else(|p| p.into_inner());
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    /// Returns a connection whose last response was read to the end.
    pub fn give_back(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.slot().lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_PER_WORKER {
            idle.push(sender);
        }
    }

    /// The number of idle connections over all workers (for tests and metrics).
    pub fn idle_count(&self) -> usize {
        self.idle
            .iter()
            .map(|slot| slot.lock().map_or(0, |idle| idle.len()))
            .sum()
    }
}

/// Opens a new connection and spawns its driver on the current runtime (this worker's).
pub async fn connect(
    address: std::net::SocketAddr,
    timeout: Duration,
) -> Result<Sender, ConnectError> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
        .await
        .map_err(|_| ConnectError::Timeout(timeout))??;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::Builder::new()
        .handshake::<_, RequestBody>(TokioIo::new(stream))
        .await?;
    tokio::spawn(async move {
        // The connection ends when either side closes it; its error is the request's to report.
        let _ = connection.await;
    });
    Ok(sender)
}
