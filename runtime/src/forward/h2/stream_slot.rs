//! The streams open on each of meshd's HTTP/2 connections to an endpoint. A connection takes at
//! most [`STREAMS_PER_UPSTREAM_CONNECTION`] streams at once; a stream counts from its request
//! until its response ends, or until the exchange gives up on it. A connection that has carried
//! no stream for longer than the pools' idle timeout is closed (see [`Multiplexed::idle_for`]).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use hyper::client::conn::http2::SendRequest;

use super::request_body::H2RequestBody;
use crate::forward::clock::coarse_now_ms;
use crate::http2_settings::STREAMS_PER_UPSTREAM_CONNECTION;

/// The streams open on a connection, and since when none has been (ms of [`coarse_now_ms`]).
#[derive(Debug)]
struct Streams {
    open: AtomicUsize,
    idle_since_ms: AtomicU64,
}

/// One multiplexed connection and the streams open on it.
#[derive(Debug)]
pub struct Multiplexed {
    sender: SendRequest<H2RequestBody>,
    streams: Arc<Streams>,
}

impl Multiplexed {
    /// A connection with no stream open yet.
    pub fn new(sender: SendRequest<H2RequestBody>) -> Self {
        Multiplexed {
            sender,
            streams: Arc::new(Streams {
                open: AtomicUsize::new(0),
                idle_since_ms: AtomicU64::new(coarse_now_ms()),
            }),
        }
    }

    /// How long (ms) the connection has carried no stream at `now_ms` ([`coarse_now_ms`]);
    /// `None` while it carries one. A caller that holds the connection list's lock sees no
    /// stream start meanwhile: streams are taken under it.
    pub fn idle_for(&self, now_ms: u64) -> Option<u64> {
        if self.streams.open.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(now_ms.saturating_sub(self.streams.idle_since_ms.load(Ordering::Acquire)))
    }

    /// A stream on this connection, when it is still open and has room for one more.
    pub fn take_stream(&self) -> Option<(SendRequest<H2RequestBody>, StreamSlot)> {
        if self.sender.is_closed() {
            return None;
        }
        self.streams
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < STREAMS_PER_UPSTREAM_CONNECTION).then_some(open + 1)
            })
            .ok()?;
        let slot = StreamSlot {
            streams: Arc::clone(&self.streams),
        };
        Some((self.sender.clone(), slot))
    }

    /// Whether the connection has closed (GOAWAY, reset, the upstream went away).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Whether `slot` is a stream of this connection.
    pub fn carries(&self, slot: &StreamSlot) -> bool {
        Arc::ptr_eq(&self.streams, &slot.streams)
    }
}

/// A stream counted on its connection until it is dropped.
#[derive(Debug)]
pub struct StreamSlot {
    streams: Arc<Streams>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        // When the last stream ended is when the connection went idle. Stored before the count
        // drops, so a sweep that sees no stream also sees when the last one ended.
        self.streams
            .idle_since_ms
            .store(coarse_now_ms(), Ordering::Release);
        self.streams.open.fetch_sub(1, Ordering::AcqRel);
    }
}
