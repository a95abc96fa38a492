//! What a client connection is doing and since when, for its worker's connection watch
//! ([`crate::server::connection_watch`]): waiting idle between requests (closed after the idle timeout,
//! like nginx's `keepalive_timeout`), receiving a request head (closed after the head timeout:
//! slowloris), or busy with a request (left alone: the route's timeouts apply). The connection
//! notes its phase as it goes; no timer is armed per request.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use tokio::sync::Notify;

use crate::forward::clock::now_ms;

const BUSY: u8 = 0;
const IDLE: u8 = 1;
const HEAD: u8 = 2;

/// What the connection watch should do about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing.
    Fine,
    /// It has been idle longer than the idle timeout.
    Idle,
    /// Its request head has been arriving for longer than the head timeout.
    SlowHead,
}

/// One connection's phase.
#[derive(Debug, Default)]
pub struct ConnectionClock {
    phase: AtomicU8,
    since_ms: AtomicU64,
    /// The connection speaks HTTP/2 (it is then closed gracefully, not dropped).
    http2: AtomicBool,
    /// HTTP/2 streams being served (the connection is idle when none is).
    streams: AtomicU32,
    /// Asks an HTTP/2 connection to close gracefully (GOAWAY).
    close: Notify,
    /// Asks an idle HTTP/1 connection to close; looked at on each wait for a request, so it
    /// takes no lock (a [`Notify`] would take one per request).
    close_flag: AtomicBool,
    close_waker: AtomicWaker,
}

impl ConnectionClock {
    /// A clock for a new connection, idle from now (the first request is awaited like any next
    /// one).
    pub fn new() -> Self {
        let clock = ConnectionClock::default();
        clock.idle();
        clock
    }

    /// The connection waits for its next request.
    pub fn idle(&self) {
        self.since_ms.store(now_ms(), Ordering::Relaxed);
        self.phase.store(IDLE, Ordering::Relaxed);
    }

    /// Part of a request head has arrived; the head timeout runs from the first time this is
    /// called for a head.
    pub fn head_started(&self) {
        if self.phase.load(Ordering::Relaxed) != HEAD {
            self.since_ms.store(now_ms(), Ordering::Relaxed);
            self.phase.store(HEAD, Ordering::Relaxed);
        }
    }

    /// A request is being served.
    pub fn busy(&self) {
        self.phase.store(BUSY, Ordering::Relaxed);
    }

    /// Notes that the connection speaks HTTP/2.
    pub fn mark_http2(&self) {
        self.http2.store(true, Ordering::Relaxed);
    }

    /// Whether the connection speaks HTTP/2.
    pub fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }

    /// An HTTP/2 stream starts.
    pub fn stream_started(&self) {
        self.streams.fetch_add(1, Ordering::Relaxed);
        self.busy();
    }

    /// An HTTP/2 stream ended (its response was sent or abandoned).
    pub fn stream_ended(&self) {
        if self.streams.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.idle();
        }
    }

    /// Whether the connection has overstayed its phase.
    pub fn verdict(&self, head_timeout_ms: u64, idle_timeout_ms: u64) -> Verdict {
        self.verdict_at(now_ms(), head_timeout_ms, idle_timeout_ms)
    }

    /// [`Self::verdict`] at the given time (milliseconds on [`now_ms`]'s clock).
    fn verdict_at(&self, now_ms: u64, head_timeout_ms: u64, idle_timeout_ms: u64) -> Verdict {
        let limit = match self.phase.load(Ordering::Relaxed) {
            IDLE => idle_timeout_ms,
            HEAD => head_timeout_ms,
            _ => return Verdict::Fine,
        };
        let since = self.since_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(since) <= limit {
            return Verdict::Fine;
        }
        if self.phase.load(Ordering::Relaxed) == HEAD {
            Verdict::SlowHead
        } else {
            Verdict::Idle
        }
    }

    /// Asks the connection to close gracefully (HTTP/2: GOAWAY, then close once streams end;
    /// HTTP/1: close when idle).
    pub fn ask_to_close(&self) {
        self.close_flag.store(true, Ordering::Release);
        self.close_waker.wake();
        self.close.notify_one();
    }

    /// Resolves when the connection watch asks the connection to close (HTTP/2).
    pub async fn close_asked(&self) {
        self.close.notified().await;
    }

    /// Ready once the connection watch has asked the connection to close (HTTP/1, polled while it
    /// waits for a request).
    pub fn poll_close_asked(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.close_flag.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.close_waker.register(cx.waker());
        if self.close_flag.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn since(clock: &ConnectionClock) -> u64 {
        clock.since_ms.load(Ordering::Relaxed)
    }

    #[test]
    fn only_idle_and_head_phases_time_out() {
        let clock = ConnectionClock::new();
        let idle_since = since(&clock);
        assert_eq!(
            clock.verdict_at(idle_since + 5, 60_000, 60_000),
            Verdict::Fine
        );
        assert_eq!(clock.verdict_at(idle_since + 5, 60_000, 1), Verdict::Idle);
        clock.head_started();
        let head_since = since(&clock);
        assert_eq!(clock.verdict_at(head_since + 5, 60_000, 1), Verdict::Fine);
        assert_eq!(
            clock.verdict_at(head_since + 5, 1, 60_000),
            Verdict::SlowHead
        );
        clock.busy();
        assert_eq!(clock.verdict_at(head_since + 60_000, 0, 0), Verdict::Fine);
    }

    #[test]
    fn a_connection_with_open_streams_is_busy() {
        let clock = ConnectionClock::new();
        clock.stream_started();
        clock.stream_started();
        clock.stream_ended();
        assert_eq!(
            clock.verdict_at(since(&clock) + 60_000, 0, 0),
            Verdict::Fine
        );
        clock.stream_ended();
        assert_eq!(clock.verdict_at(since(&clock) + 5, 0, 1), Verdict::Idle);
    }
}
