//! Serving one accepted connection: TLS handshake when the listener has TLS (ALPN picks HTTP/2 or
//! HTTP/1.1), otherwise HTTP/1.1 with keep-alive or HTTP/2 with prior knowledge, told apart once
//! per connection by peeking at the first bytes (so HTTP/1.1 requests run on hyper's HTTP/1
//! connection directly, without a protocol-detection layer on every read).

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::forwarded_headers::ClientFacts;
use super::framing_guard::{FramingGuard, FramingNotes, MAX_HEAD_BYTES};
use super::request_handler::{handle, ConnectionContext, Shared};

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
    /// How long a client may take to send a request head before the connection is closed.
    pub head_timeout: Duration,
    /// HTTP/1.1 settings.
    pub http1: http1::Builder,
    /// HTTP/2 settings.
    pub http2: http2::Builder<TokioExecutor>,
}

impl ListenerContext {
    /// A listener context with meshd's HTTP settings. Slow request heads are cut off by the
    /// connection watchdog rather than hyper's per-request header timer, which cost about 1 500
    /// instructions per request.
    pub fn new(
        shared: Arc<Shared>,
        gateway: usize,
        listener: usize,
        tls: bool,
        head_timeout: Duration,
    ) -> Self {
        let mut http1 = http1::Builder::new();
        http1
            .keep_alive(true)
            .max_buf_size(MAX_HEAD_BYTES)
            .max_header_size(MAX_HEAD_BYTES);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_header_list_size(MAX_HEAD_BYTES as u32);
        ListenerContext {
            shared,
            gateway,
            listener,
            tls,
            head_timeout,
            http1,
            http2,
        }
    }
}

/// Serves `stream` until the client closes it; `framing` is the connection's notes, shared with
/// its watchdog.
pub async fn serve_connection(
    stream: TcpStream,
    listener: Arc<ListenerContext>,
    framing: Arc<FramingNotes>,
) {
    let Ok(remote) = stream.peer_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let proto = if listener.tls { "https" } else { "http" };
    let connection = Arc::new(ConnectionContext {
        framing: Arc::clone(&framing),
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
        let h2 = starts_with_http2_preface(&stream).await;
        serve(&listener, FramingGuard::new(stream, framing), h2, service).await;
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
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    serve(&listener, FramingGuard::new(tls, framing), h2, service).await;
}

/// Serves HTTP/2 or HTTP/1.1 on `io` until it closes.
async fn serve<I, S>(listener: &ListenerContext, io: I, h2: bool, service: S)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<crate::forward::ResponseBody>,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    // A connection error is the client's (reset, malformed request): nothing to report.
    let _ = if h2 {
        listener
            .http2
            .serve_connection(TokioIo::new(io), service)
            .await
    } else {
        listener
            .http1
            .serve_connection(TokioIo::new(io), service)
            .await
    };
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
