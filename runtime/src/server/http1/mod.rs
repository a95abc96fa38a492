//! meshd's own HTTP/1.1 server, for plain and TLS connections that do not speak HTTP/2 (which
//! hyper serves). A proxy's server side is a loop: read a head, serve it, write the response,
//! repeat. Written for that loop alone it does far less than a general server: no connection
//! task with channels to the request, no header map per message (lines are copied as they
//! came), one write per small response. That halves the user-space work per proxied request
//! (see BENCHMARKS.md, "meshd").
//!
//! Requests are served one after the other (pipelined requests wait in the read buffer and are
//! answered in order). The framing rules that keep one request from being read as two are in
//! [`request_head`]; bodies are read as the request path asks for them ([`client_body`]);
//! responses are framed by what the gateway knows of the body ([`response_writer`]).

pub mod client_body;
pub mod http_date;
pub mod request_head;
pub mod response_writer;
pub mod switch_protocols;

use std::future::{poll_fn, Future};
use std::task::Poll;

use http::{Method, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use self::client_body::{ClientBody, ClientConn, READ_CHUNK};
use self::request_head::{parse_request_head, Refusal, RequestHead};
use self::response_writer::{write_response, ResponseContext};
use self::switch_protocols::switch_protocols;
use super::client_request::ClientRequest;
use super::connection_clock::ConnectionClock;
use super::drain::ConnectionDrain;
use super::request_handler::{handle, refuse_head, ConnectionContext};
use crate::forward::{MessageHeaders, RequestBody, ResponseBody};

/// What reading the next request head came to.
// Returned once per request and consumed at once: boxing the head would cost an allocation.
#[allow(clippy::large_enum_variant)]
enum NextHead {
    Head(RequestHead),
    /// The client closed the connection (or it failed) between requests.
    Closed,
    /// The connection was idle when the worker's connection watch asked it to close (its listener
    /// closed).
    CloseAsked,
    Refused(Refusal),
}

/// Serves HTTP/1.x requests on `io` until the client or the gateway closes the connection. Once
/// a drain has begun, each response says `Connection: close` and ends the connection; an idle
/// connection closes when the connection watch asks (its listener has closed).
pub async fn serve_http1<I>(
    io: I,
    connection: &ConnectionContext,
    clock: &ConnectionClock,
    drain: &ConnectionDrain<'_>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut conn = ClientConn::new(io);
    let mut served_one = false;
    loop {
        let head = match next_head(&mut conn, clock, served_one).await {
            NextHead::Head(head) => head,
            NextHead::Closed => return,
            NextHead::CloseAsked => {
                let _ = conn.io.shutdown().await;
                return;
            }
            NextHead::Refused(refusal) => {
                clock.busy();
                let response = refuse_head(connection, refusal.status, refusal.reason);
                let context = ResponseContext {
                    head_request: false,
                    version: Version::HTTP_11,
                    keep_alive: false,
                    send_timeout: connection.send_timeout,
                };
                let _ = write_response(&mut conn.io, &mut conn.write, response, context).await;
                let _ = conn.io.shutdown().await;
                return;
            }
        };
        clock.busy();
        let in_flight = drain.requests().start();
        // Served here rather than in a function of its own: a request's future would be built
        // on the stack and copied into this one's, kilobytes per request.
        let context = ResponseContext {
            head_request: head.method == Method::HEAD,
            version: head.version,
            keep_alive: head.keep_alive,
            send_timeout: connection.send_timeout,
        };
        let request = ClientRequest::new(
            head.method,
            head.version,
            head.target,
            head.target_authority,
            MessageHeaders::from_raw(head.headers),
        );
        let (response, body_complete) = {
            let mut body = ClientBody::new(&mut conn, head.framing, head.expect_continue);
            let response = handle(connection, &request, RequestBody::wire(&mut body)).await;
            (response, body.finish_buffered())
        };
        // The head's memory goes back to the read buffer before the next read.
        drop(request);
        if matches!(response.body, ResponseBody::Switched(_)) {
            switch_protocols(&mut conn, response).await;
            drop(in_flight);
            return;
        }
        let context = ResponseContext {
            // A request whose body was not read whole ends the connection: what is left of it
            // would be taken for the next request. A drain ends it too (the client reconnects,
            // to a listener that is not going away).
            keep_alive: context.keep_alive && body_complete && drain.keep_alive(),
            ..context
        };
        let keep_alive = if response.body.cut_signal().is_some() {
            // A streamed answer (SSE) has no end of its own: watch the client's side meanwhile,
            // so a client that leaves frees its stream at once rather than at the next write.
            write_streamed(&mut conn, response, context).await;
            false
        } else {
            write_response(&mut conn.io, &mut conn.write, response, context)
                .await
                .unwrap_or(false)
        };
        drop(in_flight);
        served_one = true;
        if !keep_alive {
            let _ = conn.io.shutdown().await;
            return;
        }
        clock.idle();
    }
}

/// Writes a streamed response until it ends or the client closes its side of the connection.
/// The connection is not reused afterwards (what the client sent meanwhile is discarded).
async fn write_streamed<I>(
    conn: &mut ClientConn<I>,
    response: crate::server::gateway_response::GatewayResponse,
    context: ResponseContext,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (mut reading, mut writing) = tokio::io::split(&mut conn.io);
    let written = write_response(&mut writing, &mut conn.write, response, context);
    let client_gone = async {
        let mut discard = [0u8; 512];
        while let Ok(read) = reading.read(&mut discard).await {
            if read == 0 {
                break;
            }
        }
    };
    tokio::select! {
        _ = written => {}
        () = client_gone => {}
    }
}

/// Reads until the buffer holds a complete head. A connection asked to close while nothing of a
/// next request has arrived closes; bytes already there are served first. A new connection is
/// not idle: its client connected to send a request, which may still be on its way.
async fn next_head<I: AsyncRead + Unpin>(
    conn: &mut ClientConn<I>,
    clock: &ConnectionClock,
    served_one: bool,
) -> NextHead {
    loop {
        if !conn.read.is_empty() {
            match parse_request_head(&mut conn.read) {
                Ok(Some(head)) => return NextHead::Head(head),
                Ok(None) => clock.head_started(),
                Err(refusal) => return NextHead::Refused(refusal),
            }
        }
        conn.read.reserve(READ_CHUNK);
        let idle = served_one && conn.read.is_empty();
        // The read first: bytes already there are served even when a close was asked.
        let mut reading = std::pin::pin!(conn.io.read_buf(&mut conn.read));
        let read = poll_fn(|cx| match reading.as_mut().poll(cx) {
            Poll::Ready(read) => Poll::Ready(Some(read)),
            Poll::Pending if idle => clock.poll_close_asked(cx).map(|()| None),
            Poll::Pending => Poll::Pending,
        })
        .await;
        let Some(read) = read else {
            return NextHead::CloseAsked;
        };
        match read {
            Ok(0) | Err(_) => return NextHead::Closed,
            Ok(_) => {}
        }
    }
}
