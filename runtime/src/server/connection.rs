//! Serving one accepted connection: TLS handshake when the listener has TLS (ALPN picks HTTP/2 or
//! HTTP/1.1), otherwise HTTP/1.1 with keep-alive or HTTP/2 with prior knowledge, detected from the
//! first bytes.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::forwarded_headers::ClientFacts;
use super::request_handler::{handle, ConnectionContext, Shared};

/// The largest request head accepted; a larger one gets 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long a client may take to send a request head (slow clients hold no worker forever).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
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
    /// The HTTP server settings.
    pub http: auto::Builder<TokioExecutor>,
}

impl ListenerContext {
    /// A listener context with meshd's HTTP settings.
    pub fn new(shared: Arc<Shared>, gateway: usize, listener: usize, tls: bool) -> Self {
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1()
            .keep_alive(true)
            .max_buf_size(MAX_HEAD_BYTES)
            .timer(TokioTimer::new())
            .header_read_timeout(HEAD_TIMEOUT);
        http.http2()
            .timer(TokioTimer::new())
            .max_header_list_size(MAX_HEAD_BYTES as u32);
        ListenerContext {
            shared,
            gateway,
            listener,
            tls,
            http,
        }
    }
}

/// Serves `stream` until the client closes it.
pub async fn serve_connection(stream: TcpStream, listener: Arc<ListenerContext>) {
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
    let service = service_fn(move |request| handle(request, Arc::clone(&connection)));
    if !listener.tls {
        let _ = listener
            .http
            .serve_connection(TokioIo::new(stream), service)
            .await;
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
    // ALPN `h2` clients start with the HTTP/2 preface, which the builder detects like prior knowledge.
    let _ = listener
        .http
        .serve_connection(TokioIo::new(tls), service)
        .await;
}
