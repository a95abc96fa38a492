//! Multiplexed HTTP/2 connections to each endpoint: one, opened on first use, and another each
//! time those open carry
//! [`STREAMS_PER_UPSTREAM_CONNECTION`](crate::http2_settings::STREAMS_PER_UPSTREAM_CONNECTION)
//! streams; a connection that closes (GOAWAY, reset, idle, an unanswered ping) is dropped and the
//! next request opens another. Plaintext with prior knowledge (h2c), TLS offering `h2` by ALPN to
//! a public server, or the mesh's mutual TLS offering `h2`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::request_body::H2RequestBody;
use super::stream_slot::{Multiplexed, StreamSlot};
use crate::crypto_provider::crypto_provider;
use crate::forward::clock::coarse_now_ms;
use crate::forward::http1::ConnectError;
use crate::forward::upstream_tls::UpstreamTls;
use crate::http2_settings::{
    CONNECTION_WINDOW, PING_INTERVAL, PING_TIMEOUT, UPSTREAM_STREAM_WINDOW,
};

/// How a service's HTTP/2 connections are carried.
#[derive(Debug, Clone)]
pub enum H2Transport {
    /// Plaintext with prior knowledge (`protocol h2c`).
    Plain,
    /// TLS to a server with a public (or system-trusted) certificate, ALPN `h2` (`protocol h2`).
    PublicTls(Arc<ClientConfig>),
    /// The mesh's mutual TLS, whose config offers ALPN `h2`.
    Mesh(UpstreamTls),
}

/// The HTTP/2 connections of one service, one slot per endpoint (in endpoint order).
#[derive(Debug)]
pub struct H2Connections {
    transport: H2Transport,
    senders: Vec<Mutex<Vec<Multiplexed>>>,
    /// Held while a connection to the endpoint is being opened: requests arriving meanwhile wait
    /// for it and share it rather than each opening their own.
    connecting: Vec<tokio::sync::Mutex<()>>,
}

impl H2Connections {
    /// Empty slots for `endpoints` endpoints reached over `transport`.
    pub fn new(transport: H2Transport, endpoints: usize) -> Self {
        H2Connections {
            transport,
            senders: (0..endpoints).map(|_| Mutex::new(Vec::new())).collect(),
            connecting: (0..endpoints)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// How the connections are carried.
    pub fn transport(&self) -> &H2Transport {
        &self.transport
    }

    /// The scheme requests carry on these connections.
    pub fn scheme(&self) -> http::uri::Scheme {
        match self.transport {
            H2Transport::Plain => http::uri::Scheme::HTTP,
            _ => http::uri::Scheme::HTTPS,
        }
    }

    /// A stream to endpoint `index`: on an open connection with room for it, or on a new one
    /// (opened within `timeout`). The stream counts on its connection until the slot is dropped.
    pub async fn sender(
        &self,
        index: usize,
        address: SocketAddr,
        name: &str,
        timeout: Duration,
    ) -> Result<(SendRequest<H2RequestBody>, StreamSlot), ConnectError> {
        if let Some(stream) = self.open_stream(index) {
            return Ok(stream);
        }
        tokio::time::timeout(timeout, async {
            let _connecting = self.connecting[index].lock().await;
            // Another request may have opened one while this one waited.
            if let Some(stream) = self.open_stream(index) {
                return Ok(stream);
            }
            let connection = Multiplexed::new(self.connect(address, name).await?);
            let stream = connection.take_stream().ok_or_else(|| {
                ConnectError::Io(std::io::Error::other(
                    "the HTTP/2 connection closed at once",
                ))
            })?;
            lock(&self.senders[index]).push(connection);
            Ok(stream)
        })
        .await
        .map_err(|_| ConnectError::Timeout(timeout))?
    }

    /// A stream on an open connection to endpoint `index` with room for it; closed connections
    /// are dropped on the way.
    fn open_stream(&self, index: usize) -> Option<(SendRequest<H2RequestBody>, StreamSlot)> {
        let mut connections = lock(&self.senders[index]);
        connections.retain(|connection| !connection.is_closed());
        connections.iter().find_map(Multiplexed::take_stream)
    }

    /// Closes the connections that have carried no stream for longer than `idle_timeout`
    /// (their last sender is dropped: hyper ends the connection); returns how many.
    pub fn close_idle(&self, idle_timeout: Duration) -> usize {
        let limit = u64::try_from(idle_timeout.as_millis()).unwrap_or(u64::MAX);
        let now = coarse_now_ms();
        let mut closed = 0;
        for senders in &self.senders {
            let mut connections = lock(senders);
            let before = connections.len();
            connections.retain(|connection| {
                !connection.is_closed() && connection.idle_for(now).is_none_or(|idle| idle <= limit)
            });
            closed += before - connections.len();
        }
        closed
    }

    /// Forgets the connection that carried `stream` to endpoint `index` (it failed): the next
    /// request goes on another.
    pub fn forget(&self, index: usize, stream: &StreamSlot) {
        lock(&self.senders[index]).retain(|connection| !connection.carries(stream));
    }

    async fn connect(
        &self,
        address: SocketAddr,
        name: &str,
    ) -> Result<SendRequest<H2RequestBody>, ConnectError> {
        let tcp = TcpStream::connect(address).await?;
        tcp.set_nodelay(true)?;
        match &self.transport {
            H2Transport::Plain => handshake(tcp).await,
            H2Transport::Mesh(tls) => {
                let stream = tls.handshake(address, tcp).await?;
                require_h2(stream.get_ref().1.alpn_protocol())?;
                handshake(stream).await
            }
            H2Transport::PublicTls(config) => {
                let host = name.rsplit_once(':').map_or(name, |(host, _)| host);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let server_name = ServerName::try_from(host.to_string()).map_err(|_| {
                    ConnectError::Io(std::io::Error::other(format!(
                        "`{host}` is not a name a TLS certificate can carry"
                    )))
                })?;
                let stream = TlsConnector::from(Arc::clone(config))
                    .connect(server_name, tcp)
                    .await
                    .map_err(|e| {
                        ConnectError::Io(std::io::Error::other(format!("TLS handshake: {e}")))
                    })?;
                require_h2(stream.get_ref().1.alpn_protocol())?;
                handshake(stream).await
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn require_h2(alpn: Option<&[u8]>) -> Result<(), ConnectError> {
    if alpn == Some(b"h2") {
        return Ok(());
    }
    let offered = alpn.map_or("nothing".to_string(), |p| {
        String::from_utf8_lossy(p).into_owned()
    });
    Err(ConnectError::Io(std::io::Error::other(format!(
        "the upstream chose {offered} by ALPN, not h2: it does not speak HTTP/2 over TLS"
    ))))
}

async fn handshake<I>(io: I) -> Result<SendRequest<H2RequestBody>, ConnectError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .initial_stream_window_size(UPSTREAM_STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_TIMEOUT)
        .keep_alive_while_idle(true)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| ConnectError::Io(std::io::Error::other(format!("HTTP/2 handshake: {e}"))))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "upstream HTTP/2 connection ended");
        }
    });
    Ok(sender)
}

/// The client config for `protocol h2` services outside the mesh: the system's trusted roots
/// (`SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured), ALPN `h2`; built once per process.
pub fn public_tls_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A system store may hold certificates rustls cannot parse; skip those.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            tracing::warn!("no trusted root certificates found: `protocol h2` services will refuse every certificate");
        }
        let mut config = ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .expect("ring, the process's provider, supports TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Arc::new(config)
    }))
}
