//! A client connection's byte buffers, and a request body read straight from them: the body is
//! cut out of the same read buffer the head came from (so a pipelined next request stays where
//! it is), read from the socket only as the request path asks for more (backpressure: an
//! upstream that reads slowly slows the client down), with `100 Continue` sent first when the
//! client waits for it.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};

use super::request_head::RequestFraming;
use crate::forward::http1::body_decoder::{BodyDecoder, Decoded};
use crate::forward::{BodyError, WireBody};

/// Bytes reserved in the read buffer before each read.
pub const READ_CHUNK: usize = 8 * 1024;

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A client connection: the stream and its buffers.
#[derive(Debug)]
pub struct ClientConn<I> {
    /// The stream (TCP or TLS).
    pub io: I,
    /// Bytes read and not yet consumed.
    pub read: BytesMut,
    /// The response being written.
    pub write: Vec<u8>,
}

impl<I> ClientConn<I> {
    /// A connection with empty buffers.
    pub fn new(io: I) -> Self {
        ClientConn {
            io,
            read: BytesMut::with_capacity(READ_CHUNK),
            write: Vec::with_capacity(1024),
        }
    }
}

/// The body of the request being served on a connection.
#[derive(Debug)]
pub struct ClientBody<'c, I> {
    conn: &'c mut ClientConn<I>,
    decoder: BodyDecoder,
    /// Bytes of `100 Continue` still to write, once the body is first asked for.
    continue_left: Option<usize>,
    failed: bool,
}

impl<'c, I: AsyncRead + AsyncWrite + Unpin + Send> ClientBody<'c, I> {
    /// The body framed by `framing` at the start of `conn`'s read buffer.
    pub fn new(
        conn: &'c mut ClientConn<I>,
        framing: RequestFraming,
        expect_continue: bool,
    ) -> Self {
        let decoder = match framing {
            RequestFraming::Empty => BodyDecoder::empty(),
            RequestFraming::Length(n) => BodyDecoder::with_length(n),
            RequestFraming::Chunked => BodyDecoder::chunked(),
        };
        let waiting = expect_continue && !decoder.is_done();
        ClientBody {
            conn,
            decoder,
            continue_left: waiting.then_some(CONTINUE.len()),
            failed: false,
        }
    }

    /// Finishes the body from what is already buffered, discarding it (a body the request path
    /// did not read); true when the body is complete, so the connection can serve its next
    /// request. A body still on its way (or one the client was never asked to send) is not
    /// waited for: the connection closes instead.
    pub fn finish_buffered(&mut self) -> bool {
        if self.failed {
            return false;
        }
        loop {
            match self.decoder.decode(&mut self.conn.read) {
                Ok(Decoded::Done) => return true,
                Ok(Decoded::Data(_)) => {}
                Ok(Decoded::NeedMore) | Err(_) => return false,
            }
        }
    }

    fn poll_continue(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BodyError>> {
        while let Some(left) = self.continue_left {
            if left == 0 || !self.conn.read.is_empty() {
                // Done, or the client sent its body without waiting (RFC 9110 §10.1.1).
                self.continue_left = None;
                break;
            }
            let written = ready!(
                Pin::new(&mut self.conn.io).poll_write(cx, &CONTINUE[CONTINUE.len() - left..])
            )
            .map_err(|e| BodyError::Incomplete(e.to_string()))?;
            if written == 0 {
                return Poll::Ready(Err(BodyError::Incomplete("write zero".into())));
            }
            self.continue_left = Some(left - written);
        }
        Poll::Ready(Ok(()))
    }

    fn fail(&mut self, error: BodyError) -> Poll<Option<Result<Bytes, BodyError>>> {
        self.failed = true;
        Poll::Ready(Some(Err(error)))
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send> WireBody for ClientBody<'_, I> {
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BodyError>>> {
        if self.failed {
            return Poll::Ready(Some(Err(BodyError::Incomplete(
                "the body already failed".into(),
            ))));
        }
        if self.decoder.is_done() {
            return Poll::Ready(None);
        }
        if let Err(error) = ready!(self.poll_continue(cx)) {
            return self.fail(error);
        }
        loop {
            match self.decoder.decode(&mut self.conn.read) {
                Err(_) => return self.fail(BodyError::Malformed),
                Ok(Decoded::Done) => return Poll::Ready(None),
                Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(data))),
                Ok(Decoded::NeedMore) => {
                    self.conn.read.reserve(READ_CHUNK);
                    let read = ready!(tokio_util::io::poll_read_buf(
                        Pin::new(&mut self.conn.io),
                        cx,
                        &mut self.conn.read
                    ));
                    match read {
                        Ok(0) => {
                            return self.fail(BodyError::Incomplete(
                                "the connection closed mid-body".into(),
                            ))
                        }
                        Ok(_) => {}
                        Err(error) => return self.fail(BodyError::Incomplete(error.to_string())),
                    }
                }
            }
        }
    }

    fn is_end(&self) -> bool {
        self.decoder.is_done()
    }

    fn remaining_length(&self) -> Option<u64> {
        self.decoder.remaining_length()
    }
}
