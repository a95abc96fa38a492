//! Writing a response to an HTTP/1 client: the status line, the headers as received from the
//! upstream (or set by the gateway), the framing the gateway chooses from what it knows of the
//! body, then the body as it streams in. A small response goes out in one write; a streamed
//! body is sent whenever its next piece is not there yet, so the client receives it as the
//! upstream produces it, and the upstream is read no faster than the client takes it.
//!
//! Framing (RFC 9112 §6): no body for `HEAD`, 1xx, 204 and 304 (their `Content-Length`, which
//! describes the representation, is passed on, except on 204); `Content-Length` when the body's
//! size is known; otherwise chunked for HTTP/1.1 clients and close-delimited for HTTP/1.0 ones.
//! Framing headers received from the upstream are never copied as they are.
//!
//! A client that takes nothing of its response for the send timeout (`--send-timeout`, 60 s by
//! default) is given up on, as nginx's `send_timeout` does: the write fails, the connection closes, and the upstream exchange behind
//! it ends. Without that, a client that never reads (a slow-read attack) held its connection and
//! an upstream connection for as long as it stayed connected.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use http::{StatusCode, Version};
use http_body::Body;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::http_date::write_date_header;
use crate::forward::http1::raw_headers::NameKind;
use crate::forward::http1::request_encoder::{encode_chunk, LAST_CHUNK};
use crate::forward::{MessageHeaders, ResponseBody};
use crate::server::gateway_response::GatewayResponse;

/// Body bytes gathered before a write.
const WRITE_BATCH: usize = 64 * 1024;

/// Writes all of `out`, failing once the client has taken nothing for `pause`. A write the
/// socket takes at once (nearly always) reads no clock and arms no timer: the request path pays
/// for the bound only when a client is slow.
async fn send_all<W: AsyncWrite + Unpin>(
    io: &mut W,
    out: &[u8],
    pause: Duration,
) -> std::io::Result<()> {
    let mut rest = out;
    while !rest.is_empty() {
        let at_once = poll_fn(|cx| Poll::Ready(Pin::new(&mut *io).poll_write(cx, rest))).await;
        let written = match at_once {
            Poll::Ready(written) => written?,
            Poll::Pending => match tokio::time::timeout(pause, io.write(rest)).await {
                Ok(written) => written?,
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "the client took nothing of its response for {}",
                            humantime::format_duration(pause)
                        ),
                    ))
                }
            },
        };
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        rest = &rest[written..];
    }
    Ok(())
}

/// What the request said that shapes the response.
#[derive(Debug, Clone, Copy)]
pub struct ResponseContext {
    /// The request was `HEAD`.
    pub head_request: bool,
    /// The client's protocol version.
    pub version: Version,
    /// Whether the connection stays open after this response (if the body's framing allows).
    pub keep_alive: bool,
    /// The longest the client may take nothing of the response (nginx's `send_timeout`).
    pub send_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body is sent.
    None,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// The body ends when the connection closes.
    Close,
}

/// Writes `response`; the future says whether the connection may serve another request (false
/// also when the body could not be sent whole). The head is encoded into `out` at once, so the
/// future holds only the body: a response is not copied into it.
pub fn write_response<'a, W: AsyncWrite + Unpin>(
    io: &'a mut W,
    out: &'a mut Vec<u8>,
    response: GatewayResponse,
    context: ResponseContext,
) -> impl Future<Output = std::io::Result<bool>> + 'a {
    let GatewayResponse {
        status,
        headers,
        body,
    } = response;
    let framing = encode_response_head(out, status, &headers, &body, context);
    drop(headers);
    send(io, out, body, framing, context.send_timeout)
}

/// How the body follows a head, and whether the connection stays open after it.
#[derive(Debug, Clone, Copy)]
struct HeadWritten {
    framing: Framing,
    keep_alive: bool,
}

/// Writes the status line and headers into `out` (cleared first).
fn encode_response_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &MessageHeaders,
    body: &ResponseBody,
    context: ResponseContext,
) -> HeadWritten {
    let bodiless = context.head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = match body.size_hint().exact() {
        _ if bodiless => Framing::None,
        Some(length) => Framing::Length(length),
        None if context.version == Version::HTTP_11 => Framing::Chunked,
        None => Framing::Close,
    };
    let keep_alive = context.keep_alive && framing != Framing::Close;

    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut has_date = false;
    let mut has_length = false;
    headers.for_each_line(|name, value, kind| {
        match kind {
            NameKind::ContentLength => {
                // Passed on only where no body is sent (HEAD, 304), where it describes what a
                // GET would have returned; 204 must not have one (RFC 9110 §8.6).
                if framing != Framing::None || status == StatusCode::NO_CONTENT {
                    return;
                }
                has_length = true;
            }
            NameKind::TransferEncoding
            | NameKind::Connection
            | NameKind::HopByHop
            | NameKind::NamedByConnection => return,
            NameKind::Date => has_date = true,
            _ => {}
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    });
    if !has_date {
        write_date_header(out);
    }
    let mut digits = itoa::Buffer::new();
    match framing {
        Framing::Length(length) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(digits.format(length).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::None => {
            // A gateway answer to HEAD states the length a GET would have had.
            let own_length = body.size_hint().exact().filter(|_| context.head_request);
            if let (false, Some(length)) = (has_length, own_length) {
                if status != StatusCode::NOT_MODIFIED && !matches!(body, ResponseBody::Upstream(_))
                {
                    out.extend_from_slice(b"content-length: ");
                    out.extend_from_slice(digits.format(length).as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        Framing::Close => {}
    }
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if context.version == Version::HTTP_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    HeadWritten {
        framing,
        keep_alive,
    }
}

/// Sends the head in `out`, then the body.
async fn send<W: AsyncWrite + Unpin>(
    io: &mut W,
    out: &mut Vec<u8>,
    body: ResponseBody,
    head: HeadWritten,
    pause: Duration,
) -> std::io::Result<bool> {
    if head.framing == Framing::None {
        // An upstream body here is empty (HEAD, 204, 304) and already back in its pool.
        drop(body);
        send_all(io, out, pause).await?;
        return Ok(head.keep_alive);
    }
    let chunked = head.framing == Framing::Chunked;
    let complete = write_body(io, out, body, chunked, pause).await?;
    Ok(head.keep_alive && complete)
}

/// What the body offers next: a frame, or nothing at once (time to send what is gathered).
enum Step {
    Frame(Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>),
    Flush,
}

/// Streams the body after the head in `out`; false when it failed midway (the client then sees
/// a truncated body and the connection closes).
async fn write_body<W: AsyncWrite + Unpin>(
    io: &mut W,
    out: &mut Vec<u8>,
    body: ResponseBody,
    chunked: bool,
    pause: Duration,
) -> std::io::Result<bool> {
    if let Some(cut) = body.cut_signal() {
        // A streamed body (SSE) may be cut while the socket is full: stop waiting on it then.
        return tokio::select! {
            written = write_frames(io, out, body, chunked, pause) => written,
            () = cut.cut_notified() => Ok(false),
        };
    }
    write_frames(io, out, body, chunked, pause).await
}

/// [`write_body`]'s loop: frames into `out`, written when it fills or the body pauses.
async fn write_frames<W: AsyncWrite + Unpin>(
    io: &mut W,
    out: &mut Vec<u8>,
    mut body: ResponseBody,
    chunked: bool,
    pause: Duration,
) -> std::io::Result<bool> {
    loop {
        let step = poll_fn(|cx| match Pin::new(&mut body).poll_frame(cx) {
            Poll::Pending if !out.is_empty() => Poll::Ready(Step::Flush),
            Poll::Pending => Poll::Pending,
            Poll::Ready(frame) => Poll::Ready(Step::Frame(frame)),
        })
        .await;
        match step {
            Step::Flush => {
                send_all(io, out, pause).await?;
                out.clear();
            }
            Step::Frame(None) => break,
            Step::Frame(Some(Err(_))) => {
                // The upstream failed mid-body: send what arrived, without the end of the body.
                send_all(io, out, pause).await?;
                return Ok(false);
            }
            Step::Frame(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    if chunked {
                        encode_chunk(&data, out);
                    } else {
                        out.extend_from_slice(&data);
                    }
                }
                if out.len() >= WRITE_BATCH {
                    send_all(io, out, pause).await?;
                    out.clear();
                }
            }
        }
    }
    if chunked {
        out.extend_from_slice(LAST_CHUNK);
    }
    send_all(io, out, pause).await?;
    out.clear();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client socket that takes at most `per_write` bytes a write, or nothing at all.
    struct Client {
        per_write: usize,
        taken: Vec<u8>,
    }

    impl AsyncWrite for Client {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            if self.per_write == 0 {
                return Poll::Pending; // a client that never reads: its window stays shut
            }
            let n = buf.len().min(self.per_write);
            self.taken.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A client that takes nothing is given up on after the pause (tokio's clock, paused:
    /// the test takes no minute); one that takes a little at a time is written to the end.
    #[tokio::test(start_paused = true)]
    async fn a_client_that_takes_nothing_is_given_up_on_after_the_pause() {
        let started = tokio::time::Instant::now();
        let mut stuck = Client {
            per_write: 0,
            taken: Vec::new(),
        };
        let pause = Duration::from_secs(60);
        let error = send_all(&mut stuck, b"HTTP/1.1 200 OK\r\n\r\n", pause)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), pause);
        let mut slow = Client {
            per_write: 3,
            taken: Vec::new(),
        };
        send_all(&mut slow, b"HTTP/1.1 200 OK\r\n\r\n", pause)
            .await
            .unwrap();
        assert_eq!(slow.taken, b"HTTP/1.1 200 OK\r\n\r\n");
    }
}
