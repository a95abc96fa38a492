//! HTTP/2 connections, served by hyper: each stream becomes a [`ClientRequest`] for the shared
//! request path, and its response an `http::Response`. The connection counts its open streams
//! on its clock, so the connection watch can close it (gracefully, with GOAWAY) once it has been idle
//! longer than the idle timeout. A stream whose client takes nothing of its response for the send
//! timeout is reset ([`super::http2_send_timeout`]).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::client_request::ClientRequest;
use super::connection_clock::ConnectionClock;
use super::drain::{RequestCounter, RequestInFlight};
use super::grpc_answer::for_grpc_client;
use super::http2_send_timeout::{SendPace, StreamExecutor};
use super::request_handler::{handle, refuse_head, ConnectionContext};
use crate::forward::http1::token::is_token;
use crate::forward::{RequestBody, ResponseBody};

/// Counts a stream as open on its connection's clock, and as a request in flight for the drain,
/// until dropped.
#[derive(Debug)]
struct OpenStream {
    clock: Arc<ConnectionClock>,
    _in_flight: RequestInFlight,
}

impl OpenStream {
    fn new(clock: Arc<ConnectionClock>, requests: &RequestCounter) -> Self {
        clock.stream_started();
        OpenStream {
            clock,
            _in_flight: requests.start(),
        }
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.clock.stream_ended();
    }
}

/// A response body that keeps its stream counted as open until it has been sent (or dropped),
/// and tells its stream's task when a piece it handed hyper waits on the client.
#[derive(Debug)]
pub struct StreamBody {
    body: ResponseBody,
    pace: Arc<SendPace>,
    _open: OpenStream,
}

impl Body for StreamBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        match polled {
            Poll::Ready(Some(Ok(_))) => this.pace.handed(),
            _ => this.pace.asked(),
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

const MALFORMED_NAME: &str = "a header field name is not a token";

/// Whether a field name is not a token, which makes the request malformed (RFC 9113 §8.2.1). h2
/// refuses most such names, but the `http` crate lets `"` through in HTTP/2 field names, and an
/// HTTP/1.1 upstream would refuse the request meshd made of it, or read it otherwise.
fn has_malformed_name(headers: &http::HeaderMap) -> bool {
    headers
        .keys()
        .any(|name| !is_token(name.as_str().as_bytes()))
}

/// Serves HTTP/2 on `io` until it closes, or until the connection watch asks it to close (idle, or the
/// drain has begun: GOAWAY, then the open streams finish); `requests` counts its streams.
pub async fn serve_http2<I>(
    builder: &http2::Builder<StreamExecutor>,
    io: I,
    connection: Arc<ConnectionContext>,
    clock: Arc<ConnectionClock>,
    requests: RequestCounter,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    clock.mark_http2();
    let streams = Arc::clone(&clock);
    let service = service_fn(move |request: http::Request<Incoming>| {
        let connection = Arc::clone(&connection);
        let open = OpenStream::new(Arc::clone(&streams), &requests);
        let pace = SendPace::for_next_stream();
        async move {
            let (parts, body) = request.into_parts();
            let malformed = has_malformed_name(&parts.headers);
            let request = ClientRequest::from_parts(parts);
            let response = if malformed {
                refuse_head(&connection, StatusCode::BAD_REQUEST, MALFORMED_NAME)
            } else {
                handle(&connection, &request, RequestBody::hyper(body)).await
            };
            // gRPC runs over HTTP/2 only, so its clients' answers are shaped here.
            let response = for_grpc_client(&request, response);
            Ok::<_, Infallible>(response.into_http().map(|body| StreamBody {
                body,
                pace,
                _open: open,
            }))
        }
    });
    let served = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    // A connection error is the client's (reset, protocol error): nothing to report.
    tokio::select! {
        _ = served.as_mut() => {}
        () = clock.close_asked() => {
            served.as_mut().graceful_shutdown();
            let _ = served.await;
        }
    }
}
