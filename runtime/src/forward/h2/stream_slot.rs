//! The streams open on each of meshd's HTTP/2 connections to an endpoint. A connection takes at
//! most [`STREAMS_PER_UPSTREAM_CONNECTION`] streams at once; a stream counts from its request
//! until its response ends, or until the exchange gives up on it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hyper::client::conn::http2::SendRequest;

use super::request_body::H2RequestBody;
use crate::http2_settings::STREAMS_PER_UPSTREAM_CONNECTION;

/// One multiplexed connection and the streams open on it.
#[derive(Debug)]
pub struct Multiplexed {
    sender: SendRequest<H2RequestBody>,
    open: Arc<AtomicUsize>,
}

impl Multiplexed {
    /// A connection with no stream open yet.
    pub fn new(sender: SendRequest<H2RequestBody>) -> Self {
        Multiplexed {
            sender,
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A stream on this connection, when it is still open and has room for one more.
    pub fn take_stream(&self) -> Option<(SendRequest<H2RequestBody>, StreamSlot)> {
        if self.sender.is_closed() {
            return None;
        }
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < STREAMS_PER_UPSTREAM_CONNECTION).then_some(open + 1)
            })
            .ok()?;
        let slot = StreamSlot {
            open: Arc::clone(&self.open),
        };
        Some((self.sender.clone(), slot))
    }

    /// Whether the connection has closed (GOAWAY, reset, the upstream went away).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Whether `slot` is a stream of this connection.
    pub fn carries(&self, slot: &StreamSlot) -> bool {
        Arc::ptr_eq(&self.open, &slot.open)
    }
}

/// A stream counted on its connection until it is dropped.
#[derive(Debug)]
pub struct StreamSlot {
    open: Arc<AtomicUsize>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}
