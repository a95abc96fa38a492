//! Serving one accepted connection: TLS handshake when the listener has TLS (ALPN picks HTTP/2 or
//! HTTP/1.1), otherwise HTTP/1.1 with keep-alive or HTTP/2 with prior knowledge, told apart once
//! per connection by peeking at the first bytes. HTTP/1 runs on meshd's own server
//! ([`super::http1`]), HTTP/2 on hyper's ([`super::http2`]).

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::connection_clock::ConnectionClock;
use super::drain::{ConnectionDrain, DrainState, OpenConnection, Side};
use super::forwarded_headers::ClientFacts;
use super::http1::request_head::MAX_HEAD_BYTES;
use super::http1::serve_http1;
use super::http2::serve_http2;
use super::request_handler::{ConnectionContext, Shared};

/// How long a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One listener as its connections see it.
#[derive(Debug)]
pub struct ListenerContext {
    /// Process-wide state.
    pub shared: Arc<Shared>,
    /// The gateway's index in the state.
    pub gateway: usize,
    /// The listener's index in the gateway.
    pub listener: usize,
    /// Whether connections start with TLS.
    pub tls: bool,
    /// Connection timeouts, enforced by each connection's watchdog.
    pub timeouts: ConnectionTimeouts,
    /// HTTP/2 settings.
    pub http2: http2::Builder<TokioExecutor>,
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
}

impl ListenerContext {
    /// A listener context with meshd's HTTP settings.
    pub fn new(
        shared: Arc<Shared>,
        gateway: usize,
        listener: usize,
        tls: bool,
        timeouts: ConnectionTimeouts,
        drain: Arc<DrainState>,
        side: Side,
    ) -> Self {
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_header_list_size(MAX_HEAD_BYTES as u32);
        ListenerContext {
            shared,
            gateway,
            listener,
            tls,
            timeouts,
            http2,
            drain,
            side,
        }
    }
}

/// Serves `stream` until the client closes it (or the watchdog, which watches `clock`, ends it);
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
    let proto = if listener.tls { "https" } else { "http" };
    let connection = Arc::new(ConnectionContext {
        shared: Arc::clone(&listener.shared),
        gateway: listener.gateway,
        remote,
        client: ClientFacts {
            ip: HeaderValue::from_str(&remote.ip().to_string())
                .unwrap_or(HeaderValue::from_static("unknown")),
            proto: HeaderValue::from_static(proto),
        },
    });
    let drain = ConnectionDrain::new(&listener.drain, &open);
    if !listener.tls {
        if starts_with_http2_preface(&stream).await {
            serve_http2(&listener.http2, stream, connection, clock, open.requests()).await;
        } else {
            serve_http1(stream, &connection, &clock, &drain).await;
        }
        return;
    }
    let Some(config) = listener.shared.state.load().and_then(|state| {
        state
            .gateways
            .get(listener.gateway)?
            .listeners
            .get(listener.listener)?
            .tls
            .clone()
    }) else {
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
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        serve_http2(&listener.http2, tls, connection, clock, open.requests()).await;
    } else {
        serve_http1(tls, &connection, &clock, &drain).await;
    }
}

/// The HTTP/2 connection preface begins with `PRI `; HTTP/1 has no `PRI` method. Waits for the
/// client's first four bytes without consuming them.
async fn starts_with_http2_preface(stream: &TcpStream) -> bool {
    let mut first = [0u8; 4];
    loop {
        match stream.peek(&mut first).await {
            Ok(0) | Err(_) => return false,
            Ok(4) => return &first == b"PRI ",
            Ok(n) if first[..n] != b"PRI "[..n] => return false,
            // A first segment of 1-3 bytes that could still be the preface: peeking again would
            // see the same bytes at once, so wait a moment for the rest.
            Ok(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}
