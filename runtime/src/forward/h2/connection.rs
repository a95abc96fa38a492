//! One multiplexed HTTP/2 connection per endpoint, opened on first use and opened again once the
//! upstream closes it (GOAWAY, reset, idle): plaintext with prior knowledge (h2c), TLS offering
//! `h2` by ALPN to a public server, or the mesh's mutual TLS offering `h2`.

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
use crate::crypto_provider::crypto_provider;
use crate::forward::http1::ConnectError;
use crate::forward::upstream_tls::UpstreamTls;
use crate::http2_windows::{CONNECTION_WINDOW, UPSTREAM_STREAM_WINDOW};

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
    senders: Vec<Mutex<Option<SendRequest<H2RequestBody>>>>,
}

impl H2Connections {
    /// Empty slots for `endpoints` endpoints reached over `transport`.
    pub fn new(transport: H2Transport, endpoints: usize) -> Self {
        H2Connections {
            transport,
            senders: (0..endpoints).map(|_| Mutex::new(None)).collect(),
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

    /// The open connection to endpoint `index`, or a new one (opened within `timeout`).
    pub async fn sender(
        &self,
        index: usize,
        address: SocketAddr,
        name: &str,
        timeout: Duration,
    ) -> Result<SendRequest<H2RequestBody>, ConnectError> {
        let slot = &self.senders[index];
        if let Some(sender) = lock(slot).as_ref().filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        let sender = tokio::time::timeout(timeout, self.connect(address, name))
            .await
            .map_err(|_| ConnectError::Timeout(timeout))??;
        *lock(slot) = Some(sender.clone());
        Ok(sender)
    }

    /// Forgets the connection to endpoint `index` (it failed): the next request opens another.
    pub fn forget(&self, index: usize) {
        *lock(&self.senders[index]) = None;
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
