//! One request/response exchange on a connection: write the request (head and body), watching
//! for an answer meanwhile ([`AnswerWatch`]), then read until the response head is complete. The
//! response body stays on the connection for [`crate::forward::response_body::UpstreamBody`] to
//! stream.

use std::future::poll_fn;
use std::io::ErrorKind;
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncReadExt, AsyncWrite};

use super::answer_watch::AnswerWatch;
use super::connection::{UpstreamConn, READ_CHUNK};
use super::request_encoder::{encode_chunk, LAST_CHUNK};
use super::response_head::{parse_head, HeadError, HeadParse, ResponseHead};
use crate::forward::request_body::{BodyError, RequestBody};

/// Body bytes are written in pieces of at most this much.
const WRITE_BATCH: usize = 64 * 1024;

/// What to send.
#[derive(Debug)]
pub struct ExchangeRequest<'a, 'c> {
    /// The encoded request head (kept by the caller so a bodiless request can be sent again).
    pub head: &'a [u8],
    /// The client's body, when there is one.
    pub body: Option<RequestBody<'c>>,
    /// Whether the body goes out chunked.
    pub chunked: bool,
    /// Whether the method is HEAD (the response then has no body).
    pub head_request: bool,
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Writing the request failed.
    #[error("writing the request failed: {0}")]
    Write(std::io::Error),
    /// Reading the response failed.
    #[error("reading the response failed: {0}")]
    Read(std::io::Error),
    /// The upstream closed the connection before a complete response head.
    #[error("the upstream closed the connection before answering")]
    Closed {
        /// Whether any byte of a response had arrived.
        partial: bool,
    },
    /// The response head is unusable.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The client's body could not be read (the client went away, sent a malformed body or one
    /// over the route's limit).
    #[error("the request body could not be read: {0}")]
    ClientBody(BodyError),
}

impl ExchangeError {
    /// Whether the upstream sent nothing back, so a stale keep-alive connection may be the cause.
    pub fn nothing_received(&self) -> bool {
        matches!(
            self,
            ExchangeError::Write(_) | ExchangeError::Closed { partial: false }
        ) || matches!(self, ExchangeError::Read(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
    }
}

/// How writing the request ended.
enum Written {
    /// Head and body were written whole.
    Whole,
    /// The upstream refused the body while it was being written, with this answer (see
    /// [`AnswerWatch`]).
    Refused(ResponseHead),
}

/// Sends `request` on `conn` and reads the response head.
pub async fn exchange(
    conn: &mut UpstreamConn,
    request: ExchangeRequest<'_, '_>,
) -> Result<ResponseHead, ExchangeError> {
    let mut watch = AnswerWatch::new(request.head_request);
    let written = match request.body {
        // A head alone: a failed write is the write's failure (a stale kept-alive connection,
        // retried on a fresh one when the request allows); nothing can have been answered early.
        None => write_out(conn, request.head, &mut watch).await?,
        Some(body) => {
            match write_with_body(conn, request.head, body, request.chunked, &mut watch).await {
                Ok(written) => written,
                Err(error) => return early_answer(conn, watch, request.head_request, error).await,
            }
        }
    };
    match written {
        Written::Whole => match watch.take() {
            Some(head) => Ok(head),
            None => read_head(conn, request.head_request).await,
        },
        Written::Refused(head) => Ok(unfinished(head)),
    }
}

/// The answer to a request whose body was not all sent: the connection is not used again (the
/// rest of the body would be read as the next request).
fn unfinished(mut head: ResponseHead) -> ResponseHead {
    head.keep_alive = false;
    head
}

/// An upstream may answer before it has read the whole body and close the connection: the write
/// then fails, but the answer was sent before the close and is still there to read, as nginx and
/// Envoy pass it on. A write that failed with nothing to read back is the write's failure, as
/// before (a stale kept-alive connection, retried on a fresh one when the request allows).
async fn early_answer(
    conn: &mut UpstreamConn,
    mut watch: AnswerWatch,
    head_request: bool,
    failed: ExchangeError,
) -> Result<ResponseHead, ExchangeError> {
    if !matches!(failed, ExchangeError::Write(_)) {
        return Err(failed);
    }
    let answer = match watch.take() {
        Some(head) => Some(head),
        None => read_head(conn, head_request).await.ok(),
    };
    answer.map(unfinished).ok_or(failed)
}

/// What the body offers next: a piece, nothing at once (time to send what is gathered), or
/// nothing more wanted (the upstream refused the body while waiting for it).
enum Step {
    Piece(Option<Result<bytes::Bytes, BodyError>>),
    Flush,
    Refused(ResponseHead),
}

/// Writes the head and the body as it arrives: pieces already at hand are gathered into one
/// write, and what is gathered is sent whenever the client's next piece is not there yet, so the
/// upstream receives a slow upload as it comes (and a fast one in few writes). While it waits,
/// on the client or on the upstream, it watches for the upstream's answer.
async fn write_with_body(
    conn: &mut UpstreamConn,
    head: &[u8],
    mut body: RequestBody<'_>,
    chunked: bool,
    watch: &mut AnswerWatch,
) -> Result<Written, ExchangeError> {
    let mut out = Vec::with_capacity(head.len() + 4096);
    out.extend_from_slice(head);
    loop {
        let step = poll_fn(|cx| match body.poll_next(cx) {
            Poll::Pending if !out.is_empty() => Poll::Ready(Step::Flush),
            Poll::Pending => watch.poll_refusal(conn, cx).map(Step::Refused),
            Poll::Ready(piece) => Poll::Ready(Step::Piece(piece)),
        })
        .await;
        match step {
            Step::Flush => {
                if let refused @ Written::Refused(_) = write_out(conn, &out, watch).await? {
                    return Ok(refused);
                }
                out.clear();
                continue;
            }
            Step::Refused(head) => return Ok(Written::Refused(head)),
            Step::Piece(None) => break,
            Step::Piece(Some(Err(error))) => return Err(ExchangeError::ClientBody(error)),
            Step::Piece(Some(Ok(data))) => {
                if chunked {
                    encode_chunk(&data, &mut out);
                } else {
                    out.extend_from_slice(&data);
                }
            }
        }
        if out.len() >= WRITE_BATCH {
            if let refused @ Written::Refused(_) = write_out(conn, &out, watch).await? {
                return Ok(refused);
            }
            out.clear();
        }
    }
    if chunked {
        out.extend_from_slice(LAST_CHUNK);
    }
    write_out(conn, &out, watch).await
}

/// Writes and flushes `bytes`; while the upstream is not taking them, reads its answer, and
/// stops when it refuses the body.
async fn write_out(
    conn: &mut UpstreamConn,
    bytes: &[u8],
    watch: &mut AnswerWatch,
) -> Result<Written, ExchangeError> {
    let mut written = 0;
    poll_fn(|cx| {
        while written < bytes.len() {
            match Pin::new(&mut conn.stream).poll_write(cx, &bytes[written..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(ExchangeError::Write(ErrorKind::WriteZero.into())))
                }
                Poll::Ready(Ok(n)) => written += n,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(ExchangeError::Write(error))),
                Poll::Pending => {
                    return watch
                        .poll_refusal(conn, cx)
                        .map(|h| Ok(Written::Refused(h)))
                }
            }
        }
        // A TLS stream may hold the last records back until flushed (plain TCP holds nothing).
        match Pin::new(&mut conn.stream).poll_flush(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(Written::Whole)),
            Poll::Ready(Err(error)) => Poll::Ready(Err(ExchangeError::Write(error))),
            Poll::Pending => watch
                .poll_refusal(conn, cx)
                .map(|h| Ok(Written::Refused(h))),
        }
    })
    .await
}

async fn read_head(
    conn: &mut UpstreamConn,
    head_request: bool,
) -> Result<ResponseHead, ExchangeError> {
    loop {
        if !conn.read.is_empty() {
            if let HeadParse::Complete(head) = parse_head(&mut conn.read, head_request)? {
                return Ok(head);
            }
        }
        conn.read.reserve(READ_CHUNK);
        let read = conn
            .stream
            .read_buf(&mut conn.read)
            .await
            .map_err(ExchangeError::Read)?;
        if read == 0 {
            return Err(ExchangeError::Closed {
                partial: !conn.read.is_empty(),
            });
        }
    }
}
