//! A lean per-endpoint pool of idle keep-alive connections, one list per worker thread so a
//! connection is only ever used by the thread whose runtime registered its socket.

use std::sync::Mutex;

use super::http1::UpstreamConn;
use super::worker_slot::current_slot;

/// Idle connections kept per worker and endpoint; more are closed when they come back.
const MAX_IDLE_PER_WORKER: usize = 512;

/// Idle connections to one endpoint, per worker.
#[derive(Debug)]
pub struct ConnectionPool {
    idle: Box<[Mutex<Vec<UpstreamConn>>]>,
}

impl ConnectionPool {
    /// A pool with one idle list per worker plus one shared by other threads.
    pub fn new(workers: usize) -> Self {
        ConnectionPool {
            idle: (0..=workers).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    fn slot(&self) -> &Mutex<Vec<UpstreamConn>> {
        &self.idle[current_slot(self.idle.len())]
    }

    /// The most recently used idle connection of this thread that still looks open, if any.
    pub fn take_idle(&self) -> Option<UpstreamConn> {
        let mut idle = self.slot().lock().unwrap_or_else(|p| p.into_inner());
        while let Some(conn) = idle.pop() {
            if conn.looks_alive() {
                return Some(conn);
            }
        }
        None
    }

    /// Returns a connection whose last response was read to the end.
    pub fn give_back(&self, mut conn: UpstreamConn) {
        conn.reused = true;
        let mut idle = self.slot().lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_PER_WORKER {
            idle.push(conn);
        }
    }

    /// The number of idle connections over all workers.
    pub fn idle_count(&self) -> usize {
        self.idle
            .iter()
            .map(|slot| slot.lock().map_or(0, |idle| idle.len()))
            .sum()
    }
}
