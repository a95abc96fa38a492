//! A lean per-endpoint pool of idle keep-alive connections, one list per worker thread so a
//! connection is only ever used by the thread whose runtime registered its socket.
//!
//! A connection idle for longer than the pool's idle timeout is closed (nginx's upstream
//! `keepalive_timeout`, Envoy's cluster `idle_timeout`): by [`ConnectionPool::take_idle`], and by
//! [`ConnectionPool::sweep`], which also closes the connections their upstream closed meanwhile,
//! so a burst's connections do not stay open (or half-closed, holding a descriptor) after it.

use std::sync::Mutex;
use std::time::Duration;

use super::clock::coarse_now_ms;
use super::http1::UpstreamConn;
use super::worker_slot::current_slot;

/// Idle connections kept per worker and endpoint; more are closed when they come back.
const MAX_IDLE_PER_WORKER: usize = 512;

/// How long an upstream connection may stay idle by default: 60 s, nginx's upstream
/// `keepalive_timeout`, and below the 75 s nginx servers wait before closing it themselves.
pub const DEFAULT_UPSTREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How the connection pools of a state are laid out.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Worker threads: one idle list each.
    pub workers: usize,
    /// How long a connection may stay idle before it is closed.
    pub idle_timeout: Duration,
}

impl PoolSettings {
    /// Pools for `workers` workers with the default idle timeout.
    #[cfg(test)]
    pub fn for_workers(workers: usize) -> Self {
        PoolSettings {
            workers,
            idle_timeout: DEFAULT_UPSTREAM_IDLE_TIMEOUT,
        }
    }

    /// How often pools are swept: twice per idle timeout, at least every 5 s.
    pub fn sweep_interval(&self) -> Duration {
        (self.idle_timeout / 2).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }
}

/// A connection waiting for its next request, and since when (ms of [`coarse_now_ms`]).
#[derive(Debug)]
struct Idle {
    conn: UpstreamConn,
    since_ms: u64,
}

/// Idle connections to one endpoint, per worker. Each list is in the order the connections came
/// back, so the oldest are first.
#[derive(Debug)]
pub struct ConnectionPool {
    idle: Box<[Mutex<Vec<Idle>>]>,
    idle_timeout_ms: u64,
}

impl ConnectionPool {
    /// A pool with one idle list per worker plus one shared by other threads.
    pub fn new(settings: PoolSettings) -> Self {
        ConnectionPool {
            idle: (0..=settings.workers)
                .map(|_| Mutex::new(Vec::new()))
                .collect(),
            idle_timeout_ms: u64::try_from(settings.idle_timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn slot(&self) -> &Mutex<Vec<Idle>> {
        &self.idle[current_slot(self.idle.len())]
    }

    fn expired(&self, idle: &Idle, now_ms: u64) -> bool {
        now_ms.saturating_sub(idle.since_ms) > self.idle_timeout_ms
    }

    /// The most recently used idle connection of this thread that still looks open and has not
    /// been idle too long, if any.
    pub fn take_idle(&self) -> Option<UpstreamConn> {
        self.take_idle_at(coarse_now_ms())
    }

    fn take_idle_at(&self, now: u64) -> Option<UpstreamConn> {
        let mut idle = self.slot().lock().unwrap_or_else(|p| p.into_inner());
        while let Some(candidate) = idle.pop() {
            if self.expired(&candidate, now) {
                // Those left came back earlier still.
                idle.clear();
                return None;
            }
            if candidate.conn.looks_alive() {
                return Some(candidate.conn);
            }
        }
        None
    }

    /// Returns a connection whose last response was read to the end.
    pub fn give_back(&self, conn: UpstreamConn) {
        self.give_back_at(conn, coarse_now_ms());
    }

    fn give_back_at(&self, mut conn: UpstreamConn, now: u64) {
        conn.reused = true;
        let mut idle = self.slot().lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_PER_WORKER {
            idle.push(Idle {
                conn,
                since_ms: now,
            });
        }
    }

    /// Closes every idle connection that has been idle too long or that its upstream closed;
    /// returns how many.
    pub fn sweep(&self) -> usize {
        self.sweep_at(coarse_now_ms())
    }

    fn sweep_at(&self, now: u64) -> usize {
        let mut closed = 0;
        for slot in &*self.idle {
            let mut idle = slot.lock().unwrap_or_else(|p| p.into_inner());
            let before = idle.len();
            idle.retain(|idle| !self.expired(idle, now) && idle.conn.looks_alive());
            closed += before - idle.len();
        }
        closed
    }

    /// The number of idle connections over all workers.
    pub fn idle_count(&self) -> usize {
        self.idle
            .iter()
            .map(|slot| slot.lock().map_or(0, |idle| idle.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::forward::http1::connection::UpstreamStream;

    /// A pool with one worker and a 1 s idle timeout.
    fn pool() -> ConnectionPool {
        ConnectionPool::new(PoolSettings {
            workers: 1,
            idle_timeout: Duration::from_secs(1),
        })
    }

    /// An open connection, and its server side (kept so the connection stays open).
    async fn connection(listener: &TcpListener) -> (UpstreamConn, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        let conn = UpstreamConn {
            stream: UpstreamStream::Plain(client.unwrap()),
            read: Default::default(),
            reused: false,
        };
        (conn, accepted.unwrap().0)
    }

    #[tokio::test]
    async fn a_connection_is_taken_while_fresh_and_dropped_once_idle_too_long() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pool = pool();
        let (conn, _server) = connection(&listener).await;
        pool.give_back_at(conn, 10_000);
        let conn = pool
            .take_idle_at(11_000)
            .expect("idle for exactly the timeout: reused");
        assert!(conn.reused);
        pool.give_back_at(conn, 20_000);
        assert!(
            pool.take_idle_at(21_001).is_none(),
            "idle for longer: closed"
        );
        assert_eq!(pool.idle_count(), 0);
    }

    #[tokio::test]
    async fn an_expired_newest_connection_closes_the_older_ones_too() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pool = pool();
        let (older, _a) = connection(&listener).await;
        let (newer, _b) = connection(&listener).await;
        pool.give_back_at(older, 1_000);
        pool.give_back_at(newer, 2_000);
        assert!(pool.take_idle_at(3_500).is_none());
        assert_eq!(pool.idle_count(), 0);
    }

    #[tokio::test]
    async fn a_sweep_closes_only_what_is_idle_too_long() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pool = pool();
        let (older, _a) = connection(&listener).await;
        let (newer, _b) = connection(&listener).await;
        pool.give_back_at(older, 1_000);
        pool.give_back_at(newer, 1_800);
        assert_eq!(pool.sweep_at(2_500), 1);
        assert_eq!(pool.idle_count(), 1);
        assert!(pool.take_idle_at(2_600).is_some(), "the newer one is left");
    }
}
