//! An HTTP/2 upstream's response body, passed on frame by frame (data and trailers), keeping the
//! endpoint counted in flight, and the stream counted on its connection, until it ends.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::stream_slot::StreamSlot;
use crate::forward::endpoint::Lease;

/// A response body streaming from an HTTP/2 upstream.
#[derive(Debug)]
pub struct H2ResponseBody {
    incoming: Incoming,
    /// The endpoint in flight and the stream on its connection, released as the body ends.
    held: Option<(Lease, StreamSlot)>,
}

impl H2ResponseBody {
    /// The body of a response from the endpoint `lease` holds, on `stream`.
    pub fn new(incoming: Incoming, lease: Lease, stream: StreamSlot) -> Self {
        H2ResponseBody {
            incoming,
            held: Some((lease, stream)),
        }
    }
}

impl Body for H2ResponseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.incoming).poll_frame(cx);
        match polled {
            Poll::Ready(None) => {
                this.held = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => {
                this.held = None;
                Poll::Ready(Some(Err(std::io::Error::other(error))))
            }
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
