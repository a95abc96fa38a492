//! The body sent back to the client: an upstream response read straight from its connection
//! (which goes back to the pool at the end), a fixed body, or nothing.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::endpoint::Lease;
use super::http1::body_decoder::{BodyDecoder, Decoded};
use super::http1::connection::READ_CHUNK;
use super::http1::UpstreamConn;

/// A response body.
#[derive(Debug)]
pub enum ResponseBody {
    /// A fixed body (gateway answers, `respond` routes).
    Full(Option<Bytes>),
    /// An upstream response body, streamed.
    Upstream(UpstreamBody),
    /// No body: the upstream switched protocols, and the connection becomes a tunnel
    /// ([`super::upgrade`]).
    Switched(Box<super::upgrade::Switched>),
}

impl ResponseBody {
    /// A fixed body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        ResponseBody::Full(Some(bytes.into()))
    }

    /// No body.
    pub fn empty() -> Self {
        ResponseBody::Full(None)
    }
}

/// An upstream body being read from its connection.
#[derive(Debug)]
pub struct UpstreamBody {
    conn: Option<UpstreamConn>,
    decoder: BodyDecoder,
    keep_alive: bool,
    lease: Option<Lease>,
}

impl UpstreamBody {
    /// Streams the body that follows a response head on `conn`.
    pub fn new(conn: UpstreamConn, decoder: BodyDecoder, keep_alive: bool, lease: Lease) -> Self {
        let mut body = UpstreamBody {
            conn: Some(conn),
            decoder,
            keep_alive,
            lease: Some(lease),
        };
        if body.decoder.is_done() {
            body.finish();
        }
        body
    }

    /// The body is complete: the connection goes back to the pool when it can serve again.
    fn finish(&mut self) {
        let (Some(conn), Some(lease)) = (self.conn.take(), self.lease.take()) else {
            return;
        };
        if self.keep_alive && conn.read.is_empty() {
            lease.finish(conn);
        }
    }

    /// The body failed: the connection is closed.
    fn fail(
        &mut self,
        error: std::io::Error,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.conn = None;
        self.lease = None;
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match this.decoder.decode(&mut conn.read) {
                Err(error) => {
                    return this.fail(std::io::Error::new(std::io::ErrorKind::InvalidData, error));
                }
                Ok(Decoded::Data(data)) => {
                    if this.decoder.is_done() {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Decoded::Done) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(Decoded::NeedMore) => {
                    conn.read.reserve(READ_CHUNK);
                    let read = ready!(tokio_util::io::poll_read_buf(
                        Pin::new(&mut conn.stream),
                        cx,
                        &mut conn.read
                    ));
                    match read {
                        Ok(0) if this.decoder.ends_at_close() => {
                            this.keep_alive = false;
                            this.finish();
                            return Poll::Ready(None);
                        }
                        Ok(0) => {
                            let error = std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "the upstream closed the connection mid-body",
                            );
                            return this.fail(error);
                        }
                        Ok(_) => {}
                        Err(error) => return this.fail(error),
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none() || self.decoder.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.remaining_length() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            ResponseBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Upstream(body) => Pin::new(body).poll_frame(cx),
            ResponseBody::Switched(_) => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Full(bytes) => bytes.is_none(),
            ResponseBody::Upstream(body) => body.is_end_stream(),
            ResponseBody::Switched(_) => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            ResponseBody::Upstream(body) => body.size_hint(),
            ResponseBody::Switched(_) => SizeHint::with_exact(0),
        }
    }
}
