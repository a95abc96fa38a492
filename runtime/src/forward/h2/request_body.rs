//! The request body sent on an HTTP/2 stream: nothing, bytes read whole (which a retry can send
//! again), or the client's HTTP/2 stream passed on frame by frame (trailers included) as the
//! upstream's flow control asks for it. A streamed body is also copied, up to
//! [`REPLAY_LIMIT`], so that a unary call the upstream refused can be sent again once the client
//! has finished it; a longer or unfinished stream (a bidirectional call) is never repeated.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::forward::request_body::BodyError;

/// The most bytes of a streamed body kept to send again (Envoy's retry buffer is 64 KiB too).
pub const REPLAY_LIMIT: usize = 64 * 1024;

/// A request body for hyper's HTTP/2 client.
#[derive(Debug)]
pub enum H2RequestBody {
    /// No body.
    Empty,
    /// Bytes read whole.
    Full(Option<Bytes>),
    /// The client's HTTP/2 stream.
    Streamed(StreamedBody),
}

/// The client's HTTP/2 stream on its way upstream, copied into its [`ReplayTap`].
#[derive(Debug)]
pub struct StreamedBody {
    incoming: Incoming,
    limit: Option<u64>,
    seen: u64,
    tap: Arc<Mutex<ReplayTap>>,
}

/// What a streamed body left behind: a copy to send again, and whether it is usable.
#[derive(Debug, Default)]
pub struct ReplayTap {
    copy: BytesMut,
    /// The client ended its stream (without trailers, which a copy does not keep).
    complete: bool,
    /// The copy is unusable: too long, or the stream had trailers.
    partial: bool,
    /// The client's body failed (gone, or over the route's limit).
    pub failed: Option<BodyError>,
}

impl ReplayTap {
    /// The whole body, when it ended and was short enough to keep.
    pub fn replay(&self) -> Option<Bytes> {
        (self.complete && !self.partial).then(|| self.copy.clone().freeze())
    }
}

impl H2RequestBody {
    /// The client's HTTP/2 stream held to `limit`, and the tap that sees what passes.
    pub fn streamed(incoming: Incoming, limit: Option<u64>) -> (Self, Arc<Mutex<ReplayTap>>) {
        let tap = Arc::new(Mutex::new(ReplayTap::default()));
        let body = StreamedBody {
            incoming,
            limit,
            seen: 0,
            tap: Arc::clone(&tap),
        };
        (H2RequestBody::Streamed(body), tap)
    }
}

impl StreamedBody {
    fn note(&self, change: impl FnOnce(&mut ReplayTap)) {
        change(&mut self.tap.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

impl Body for H2RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            H2RequestBody::Empty => Poll::Ready(None),
            H2RequestBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            H2RequestBody::Streamed(body) => body.poll_streamed(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            H2RequestBody::Empty => true,
            H2RequestBody::Full(bytes) => bytes.is_none(),
            H2RequestBody::Streamed(body) => body.incoming.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            H2RequestBody::Empty => SizeHint::with_exact(0),
            H2RequestBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            H2RequestBody::Streamed(body) => body.incoming.size_hint(),
        }
    }
}

impl StreamedBody {
    fn poll_streamed(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let frame = match ready!(Pin::new(&mut self.incoming).poll_frame(cx)) {
            None => {
                self.note(|tap| tap.complete = true);
                return Poll::Ready(None);
            }
            Some(Err(error)) => {
                let error = BodyError::Incomplete(error.to_string());
                self.note(|tap| tap.failed = Some(error.clone()));
                return Poll::Ready(Some(Err(error)));
            }
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref() {
            self.seen += data.len() as u64;
            if let Some(limit) = self.limit.filter(|limit| self.seen > *limit) {
                let error = BodyError::TooLarge { limit };
                self.note(|tap| tap.failed = Some(error.clone()));
                return Poll::Ready(Some(Err(error)));
            }
            // hyper stops polling a body that says it has ended, so the end is noted here too.
            let ended = self.incoming.is_end_stream();
            self.note(|tap| {
                if tap.copy.len() + data.len() <= REPLAY_LIMIT {
                    tap.copy.extend_from_slice(data);
                } else {
                    tap.partial = true;
                }
                tap.complete |= ended;
            });
        } else {
            // Trailers: passed on, but a copy without them would not be the same request.
            self.note(|tap| tap.partial = true);
        }
        Poll::Ready(Some(Ok(frame)))
    }
}
