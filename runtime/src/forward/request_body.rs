//! The client's request body on its way upstream: streamed from an HTTP/1 connection or an
//! HTTP/2 stream, or already read whole. A route's body limit is enforced here while the body
//! streams, so a body without a declared length (chunked) is cut off at the limit.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Body;
use hyper::body::Incoming;

/// Body bytes read from a client connection by the HTTP/1 server.
pub trait WireBody: Send {
    /// The next piece of the body; `None` at its end.
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BodyError>>>;
    /// Whether the whole body has been read.
    fn is_end(&self) -> bool;
    /// The bytes still to come, when the body declared its length.
    fn remaining_length(&self) -> Option<u64>;
}

/// Why the body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body grew past the route's limit.
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The chunked encoding is malformed.
    #[error("the request body's chunked encoding is malformed")]
    Malformed,
    /// The client closed the connection or reset the stream before the body ended.
    #[error("the client went away before the end of the body: {0}")]
    Incomplete(String),
    /// The client sent nothing of a body meshd reads whole for this long (a slow-body attack
    /// holds a connection so, a byte at a time).
    #[error("the client sent no body for {}s", .0.as_secs())]
    Stalled(std::time::Duration),
}

impl BodyError {
    /// The status a client gets for it when meshd answers itself: 413, 408, else 400.
    pub fn status(&self) -> http::StatusCode {
        match self {
            BodyError::TooLarge { .. } => http::StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Stalled(_) => http::StatusCode::REQUEST_TIMEOUT,
            BodyError::Malformed | BodyError::Incomplete(_) => http::StatusCode::BAD_REQUEST,
        }
    }
}

enum Source<'c> {
    Empty,
    Full(Option<Bytes>),
    Hyper(Incoming),
    Wire(&'c mut dyn WireBody),
}

/// A request body.
pub struct RequestBody<'c> {
    source: Source<'c>,
    limit: Option<u64>,
    seen: u64,
}

impl std::fmt::Debug for RequestBody<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match self.source {
            Source::Empty => "empty",
            Source::Full(_) => "full",
            Source::Hyper(_) => "http2",
            Source::Wire(_) => "http1",
        };
        f.debug_struct("RequestBody")
            .field("source", &source)
            .field("limit", &self.limit)
            .field("seen", &self.seen)
            .finish()
    }
}

impl<'c> RequestBody<'c> {
    fn new(source: Source<'c>) -> Self {
        RequestBody {
            source,
            limit: None,
            seen: 0,
        }
    }

    /// No body.
    pub fn empty() -> RequestBody<'static> {
        RequestBody::new(Source::Empty)
    }

    /// A body read whole.
    pub fn full(bytes: Bytes) -> RequestBody<'static> {
        RequestBody::new(Source::Full(Some(bytes)))
    }

    /// The body of an HTTP/2 request.
    pub fn hyper(body: Incoming) -> RequestBody<'static> {
        RequestBody::new(Source::Hyper(body))
    }

    /// A body streamed from an HTTP/1 connection.
    pub fn wire(body: &'c mut dyn WireBody) -> RequestBody<'c> {
        RequestBody::new(Source::Wire(body))
    }

    /// The same body, refused once it grows past `limit` bytes.
    pub fn with_limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        self
    }

    /// Replaces the body with its bytes read whole (see [`crate::server::body_buffer`]).
    pub fn set_buffered(&mut self, bytes: Bytes) {
        self.source = Source::Full(Some(bytes));
    }

    /// The HTTP/2 stream's body and the limit it is held to, for a client that sends it on as
    /// frames (trailers included, see [`crate::forward::h2`]); any other body is given back.
    pub fn into_hyper(self) -> Result<(Incoming, Option<u64>), Self> {
        match self.source {
            Source::Hyper(body) if self.seen == 0 => Ok((body, self.limit)),
            source => Err(RequestBody { source, ..self }),
        }
    }

    /// Whether the body is known to have nothing (more) to give.
    pub fn is_end(&self) -> bool {
        match &self.source {
            Source::Empty => true,
            Source::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Source::Hyper(body) => body.is_end_stream(),
            Source::Wire(body) => body.is_end(),
        }
    }

    /// The bytes still to come, when known: a declared length, or a body read whole.
    pub fn remaining_length(&self) -> Option<u64> {
        match &self.source {
            Source::Empty => Some(0),
            Source::Full(bytes) => Some(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Source::Hyper(body) => body.size_hint().exact(),
            Source::Wire(body) => body.remaining_length(),
        }
    }

    /// Whether the body was read whole by the gateway (its length is then the gateway's to
    /// declare).
    pub fn is_buffered(&self) -> bool {
        matches!(self.source, Source::Full(_))
    }

    /// The next piece of the body; `None` at its end.
    pub async fn next(&mut self) -> Option<Result<Bytes, BodyError>> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Polls for the next piece of the body.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BodyError>>> {
        let polled = match &mut self.source {
            Source::Empty => Poll::Ready(None),
            Source::Full(bytes) => Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(Ok)),
            Source::Hyper(body) => poll_hyper(body, cx),
            Source::Wire(body) => body.poll_data(cx),
        };
        if let Poll::Ready(Some(Ok(data))) = &polled {
            self.seen += data.len() as u64;
            if let Some(limit) = self.limit.filter(|limit| self.seen > *limit) {
                return Poll::Ready(Some(Err(BodyError::TooLarge { limit })));
            }
        }
        polled
    }
}

fn poll_hyper(body: &mut Incoming, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BodyError>>> {
    loop {
        let frame = match std::task::ready!(Pin::new(&mut *body).poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(error)) => {
                return Poll::Ready(Some(Err(BodyError::Incomplete(error.to_string()))))
            }
            Some(Ok(frame)) => frame,
        };
        // Trailers end the body; they are not forwarded.
        if let Ok(data) = frame.into_data() {
            if !data.is_empty() {
                return Poll::Ready(Some(Ok(data)));
            }
        }
    }
}

/// A wire body that hands over fixed pieces, one per poll, for tests of body readers.
#[cfg(test)]
pub(crate) struct Pieces(pub Vec<&'static [u8]>);

#[cfg(test)]
impl WireBody for Pieces {
    fn poll_data(&mut self, _: &mut Context<'_>) -> Poll<Option<Result<Bytes, BodyError>>> {
        Poll::Ready((!self.0.is_empty()).then(|| Ok(Bytes::from_static(self.0.remove(0)))))
    }
    fn is_end(&self) -> bool {
        self.0.is_empty()
    }
    fn remaining_length(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_growing_past_its_limit_is_cut_off() {
        let mut wire = Pieces(vec![b"hello", b" world"]);
        let mut body = RequestBody::wire(&mut wire).with_limit(Some(8));
        assert_eq!(body.next().await, Some(Ok(Bytes::from_static(b"hello"))));
        assert_eq!(
            body.next().await,
            Some(Err(BodyError::TooLarge { limit: 8 }))
        );
    }

    #[tokio::test]
    async fn a_body_within_its_limit_streams_whole() {
        let mut wire = Pieces(vec![b"hello", b" world"]);
        let mut body = RequestBody::wire(&mut wire).with_limit(Some(11));
        let mut all = Vec::new();
        while let Some(piece) = body.next().await {
            all.extend_from_slice(&piece.unwrap());
        }
        assert_eq!(all, b"hello world");
        assert!(body.is_end());
    }
}
