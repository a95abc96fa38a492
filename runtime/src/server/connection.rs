//! Serving one accepted connection: TLS handshake when the listener has TLS (ALPN picks HTTP/2 or
//! HTTP/1.1; a sidecar's inbound listener does mutual TLS, or takes plaintext too in permissive
//! mode), otherwise HTTP/1.1 with keep-alive or HTTP/2 with prior knowledge, told apart once per
//! connection by peeking at the first bytes. HTTP/1 runs on meshd's own server
//! ([`super::http1`]), HTTP/2 on hyper's ([`super::http2`]).

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use hyper::server::conn::http2;
use hyper_util::rt::TokioTimer;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::http2_settings::{
    CONNECTION_WINDOW, LISTENER_STREAM_WINDOW, PING_INTERVAL, PING_TIMEOUT,
};
use crate::mesh::identity::SpiffeId;
use crate::mesh::inbound::Accepted;
use crate::mesh::tcp_inbound::{serve_tcp_inbound, serves_tcp};

use super::connection_clock::ConnectionClock;
use super::drain::{ConnectionDrain, DrainState, OpenConnection, Side};
use super::forwarded_headers::ClientFacts;
use super::http1::request_head::MAX_HEAD_BYTES;
use super::http1::serve_http1;
use super::http2::serve_http2;
use super::http2_send_timeout::StreamExecutor;
use super::listener_role::ListenerRole;
use super::request_handler::{ConnectionContext, Shared};

/// How long a TLS handshake may take.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One listener as its connections see it.
#[derive(Debug)]
pub struct ListenerContext {
    /// Process-wide state.
    pub shared: Arc<Shared>,
    /// What the listener serves.
    pub role: ListenerRole,
    /// Connection timeouts, enforced by the worker's connection watch.
    pub timeouts: ConnectionTimeouts,
    /// HTTP/2 settings.
    pub http2: http2::Builder<StreamExecutor>,
    /// The process's drain, which connections follow.
    pub drain: Arc<DrainState>,
    /// Whose traffic the listener takes, which decides how it drains.
    pub side: Side,
}

/// How long a client connection may spend waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// Sending a request head (slowloris).
    pub head: Duration,
    /// Idle between requests (keep-alive), like nginx's `keepalive_timeout`.
    pub idle: Duration,
    /// Taking nothing of a response, like nginx's `send_timeout`: an HTTP/1.1 connection
    /// closes, an HTTP/2 stream is reset.
    pub send: Duration,
}

impl ListenerContext {
    /// A listener context with meshd's HTTP settings; HTTP/2 clients may open
    /// `http2_max_streams` streams at once on a connection.
    pub fn new(
        shared: Arc<Shared>,
        role: ListenerRole,
        timeouts: ConnectionTimeouts,
        drain: Arc<DrainState>,
        side: Side,
        http2_max_streams: u32,
    ) -> Self {
        let mut http2 = http2::Builder::new(StreamExecutor::new(timeouts.send));
        http2
            .timer(TokioTimer::new())
            .max_header_list_size(MAX_HEAD_BYTES as u32)
            .max_concurrent_streams(http2_max_streams)
            .initial_stream_window_size(LISTENER_STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .keep_alive_interval(PING_INTERVAL)
            .keep_alive_timeout(PING_TIMEOUT);
        ListenerContext {
            shared,
            role,
            timeouts,
            http2,
            drain,
            side,
        }
    }
}

/// Serves `stream` until the client closes it (or the worker's connection watch, which reads `clock`, ends it);
/// `open` counts it as open until then.
pub async fn serve_connection(
    stream: TcpStream,
    listener: Arc<ListenerContext>,
    clock: Arc<ConnectionClock>,
    open: OpenConnection,
) {
    let Ok(remote) = stream.peer_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let context = |tls: bool, peer: Option<SpiffeId>| {
        Arc::new(ConnectionContext {
            shared: Arc::clone(&listener.shared),
            role: listener.role.clone(),
            remote,
            client: ClientFacts {
                ip: HeaderValue::from_str(&remote.ip().to_string())
                    .unwrap_or(HeaderValue::from_static("unknown")),
                proto: HeaderValue::from_static(if tls { "https" } else { "http" }),
            },
            peer,
            send_timeout: listener.timeouts.send,
        })
    };
    let drain = ConnectionDrain::new(&listener.drain, &open);
    let serving = Serving {
        listener: &listener,
        clock,
        open: &open,
        drain: &drain,
    };
    let config = match &listener.role {
        ListenerRole::Gateway { tls: false, .. } | ListenerRole::MeshOutbound(_) => {
            return serve_plain(serving, stream, context(false, None)).await;
        }
        ListenerRole::MeshTcpOutbound(side) => {
            // Busy for its whole life: a quiet TCP connection is not an idle HTTP one.
            serving.clock.busy();
            return side.serve(&listener.shared, stream, &open.requests()).await;
        }
        ListenerRole::MeshInbound(side) => {
            // A refused handshake (counted by `accept`) ends here.
            let Some(accepted) = side.accept(stream).await else {
                return;
            };
            if serves_tcp(side, &listener.shared) {
                serving.clock.busy();
                let (shared, requests) = (&listener.shared, &open.requests());
                return match accepted {
                    Accepted::Plain(stream) => {
                        serve_tcp_inbound(side, shared, stream, None, requests).await
                    }
                    Accepted::Tls { stream, peer } => {
                        serve_tcp_inbound(side, shared, stream, peer.as_ref(), requests).await
                    }
                };
            }
            return match accepted {
                Accepted::Plain(stream) => serve_plain(serving, stream, context(false, None)).await,
                Accepted::Tls { stream, peer } => {
                    serve_tls(serving, *stream, context(true, peer)).await
                }
            };
        }
        ListenerRole::Gateway {
            gateway,
            listener: index,
            tls: true,
        } => listener.shared.state.load().and_then(|state| {
            state
                .gateways
                .get(*gateway)?
                .listeners
                .get(*index)?
                .tls
                .clone()
        }),
    };
    let Some(config) = config else {
        return;
    };
    let Ok(Ok(tls)) = tokio::time::timeout(
        TLS_HANDSHAKE_TIMEOUT,
        TlsAcceptor::from(config).accept(stream),
    )
    .await
    else {
        return;
    };
    serve_tls(serving, tls, context(true, None)).await;
}

/// What serving one connection needs besides its stream.
struct Serving<'a> {
    listener: &'a ListenerContext,
    clock: Arc<ConnectionClock>,
    open: &'a OpenConnection,
    drain: &'a ConnectionDrain<'a>,
}

/// Serves a plain connection: HTTP/2 with prior knowledge, else HTTP/1.1.
async fn serve_plain(serving: Serving<'_>, stream: TcpStream, connection: Arc<ConnectionContext>) {
    let Serving {
        listener,
        clock,
        open,
        drain,
    } = serving;
    if starts_with_http2_preface(&stream, listener.timeouts.head).await {
        serve_http2(&listener.http2, stream, connection, clock, open.requests()).await;
    } else {
        serve_http1(stream, &connection, &clock, drain).await;
    }
}

/// Serves a TLS connection with the protocol ALPN chose.
async fn serve_tls(
    serving: Serving<'_>,
    tls: TlsStream<TcpStream>,
    connection: Arc<ConnectionContext>,
) {
    let Serving {
        listener,
        clock,
        open,
        drain,
    } = serving;
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        serve_http2(&listener.http2, tls, connection, clock, open.requests()).await;
    } else {
        serve_http1(tls, &connection, &clock, drain).await;
    }
}

/// The HTTP/2 connection preface begins with `PRI `; HTTP/1 has no `PRI` method. Waits for the
/// client's first four bytes without consuming them.
///
/// A first segment of 1-3 bytes that could still be the preface (`P`, `PR`, `PRI`) is rare: a
/// client sends the preface in one write. Peeking again would see the same bytes at once, so
/// the wait polls, backing off from 1 ms to 50 ms, until the rest arrives, the client closes its
/// side (`P` and then nothing more: HTTP/1.1's parser answers it), or `head_timeout` passes
/// (then HTTP/1.1, whose own head timeout ends it). A client that sent `P` and stalled was once
/// polled every millisecond for as long as the connection lasted, and one that closed was never
/// let go.
async fn starts_with_http2_preface(stream: &TcpStream, head_timeout: Duration) -> bool {
    let mut first = [0u8; 4];
    let deadline = tokio::time::Instant::now() + head_timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match stream.peek(&mut first).await {
            Ok(0) | Err(_) => return false,
            Ok(4) => return &first == b"PRI ",
            Ok(n) if first[..n] != b"PRI "[..n] => return false,
            Ok(_) => {
                let closed = stream
                    .ready(tokio::io::Interest::READABLE)
                    .await
                    .map_or(true, |ready| ready.is_read_closed());
                if closed || tokio::time::Instant::now() + pause > deadline {
                    return false;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }
}
