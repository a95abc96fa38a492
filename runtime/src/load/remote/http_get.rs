//! A small HTTP/1.1 GET client for bundles: conditional requests, a deadline on the whole
//! exchange, a cap on the body, and one kept-alive connection reused between polls (a poll that
//! finds nothing new costs one request and a 304 on an open connection). `https://` goes through
//! rustls with the system's trusted roots, or only the CA given with `--bundle-ca`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    ETAG, HOST, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION, USER_AGENT,
};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use super::bundle_url::BundleUrl;

/// What a GET may send to make it conditional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` of the copy held (sent as `If-None-Match`).
    pub etag: Option<String>,
    /// The `Last-Modified` of the copy held (sent as `If-Modified-Since`).
    pub last_modified: Option<String>,
}

/// A successful GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetOutcome {
    /// 200: the body and the validators to send next time.
    Fresh {
        /// The body.
        body: Bytes,
        /// The response's validators.
        validators: Validators,
    },
    /// 304: the copy held is current.
    NotModified,
}

/// Why a GET failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// The TCP connection failed.
    #[error("cannot connect to {address}")]
    Connect {
        /// `host:port`.
        address: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TLS handshake failed (an untrusted or mismatched certificate, …).
    #[error("TLS with {host} failed")]
    Tls {
        /// The host.
        host: String,
        /// The I/O error carrying rustls' reason.
        source: std::io::Error,
    },
    /// The host is not a valid TLS server name.
    #[error("`{0}` is not a valid TLS server name")]
    ServerName(String),
    /// The HTTP exchange failed.
    #[error("HTTP exchange failed")]
    Http(#[from] hyper::Error),
    /// The request could not be built (a header value with forbidden bytes).
    #[error("cannot build the request: {0}")]
    Request(String),
    /// The server answered something else than 200 or 304.
    #[error("{url} answered {status}{}", location.as_deref().map(|l| format!(" (Location: {l}; redirects are not followed)")).unwrap_or_default())]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// Where a redirect pointed.
        location: Option<String>,
    },
    /// The body is larger than the cap.
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// The exchange took longer than the deadline.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
}

/// Why the TLS client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsClientError {
    /// The `--bundle-ca` file could not be read or holds no certificate.
    #[error("--bundle-ca {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The system has no trusted roots.
    #[error("no trusted CA certificates found on this system; give --bundle-ca FILE")]
    NoRoots,
    /// rustls refused the configuration.
    #[error("TLS setup failed: {0}")]
    Config(String),
}

/// The rustls client configuration for `https://` bundle URLs: roots from `ca_file` when given,
/// else the system's trust store.
pub fn tls_client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsClientError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let refused = |reason: String| TlsClientError::CaFile {
                path: path.display().to_string(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| refused(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| refused(e.to_string()))?;
            for cert in certs {
                roots.add(cert).map_err(|e| refused(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(refused("no PEM certificate in the file".into()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system store may hold certificates rustls cannot parse; skip those.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(TlsClientError::NoRoots);
            }
        }
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsClientError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// An open connection and where it goes.
struct OpenConnection {
    host: String,
    port: u16,
    sender: SendRequest<Empty<Bytes>>,
}

/// GETs bundles and signatures from one server, reusing its connection.
pub struct HttpGetter {
    tls: Option<TlsConnector>,
    timeout: Duration,
    max_body: usize,
    connection: Option<OpenConnection>,
}

impl std::fmt::Debug for HttpGetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGetter")
            .field("tls", &self.tls.is_some())
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

const AGENT: &str = concat!("meshd/", env!("CARGO_PKG_VERSION"));

impl HttpGetter {
    /// A client with a deadline per exchange and a body cap; `tls` for `https://` URLs.
    pub fn new(tls: Option<Arc<ClientConfig>>, timeout: Duration, max_body: usize) -> Self {
        HttpGetter {
            tls: tls.map(TlsConnector::from),
            timeout,
            max_body,
            connection: None,
        }
    }

    /// Drops the kept connection (the next GET opens a new one).
    pub fn forget_connection(&mut self) {
        self.connection = None;
    }

    /// GETs `url`, conditionally on `validators`, within the deadline.
    pub async fn get(
        &mut self,
        url: &BundleUrl,
        validators: &Validators,
    ) -> Result<GetOutcome, GetError> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange(url, validators)).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(error)) => {
                self.connection = None;
                Err(error)
            }
            Err(_) => {
                self.connection = None;
                Err(GetError::Timeout(timeout))
            }
        }
    }

    async fn exchange(
        &mut self,
        url: &BundleUrl,
        validators: &Validators,
    ) -> Result<GetOutcome, GetError> {
        let sender = self.sender(url).await?;
        let mut request = Request::get(url.path_and_query())
            .header(HOST, url.authority())
            .header(USER_AGENT, AGENT)
            .header(http::header::ACCEPT, "application/json");
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag.as_str());
        }
        if let Some(date) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, date.as_str());
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| GetError::Request(e.to_string()))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &http::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let fresh_validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        let location = header(LOCATION);
        let keep_alive = !response
            .headers()
            .get(http::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        // Read the body whatever the status, so the connection can carry the next request.
        let body = Limited::new(response.into_body(), self.max_body)
            .collect()
            .await
            .map_err(|error| match error.downcast::<hyper::Error>() {
                Ok(error) => GetError::Http(*error),
                Err(_) => GetError::TooLarge(self.max_body),
            })?
            .to_bytes();
        if !keep_alive {
            self.connection = None;
        }
        match status {
            StatusCode::OK => Ok(GetOutcome::Fresh {
                body,
                validators: fresh_validators,
            }),
            StatusCode::NOT_MODIFIED => Ok(GetOutcome::NotModified),
            status => Err(GetError::Status {
                url: url.to_string(),
                status,
                location,
            }),
        }
    }

    /// The kept connection when it still goes to `url`'s server and is open, else a new one.
    async fn sender(
        &mut self,
        url: &BundleUrl,
    ) -> Result<&mut SendRequest<Empty<Bytes>>, GetError> {
        let reusable = match &mut self.connection {
            Some(open) if open.host == url.host() && open.port == url.port() => {
                !open.sender.is_closed() && open.sender.ready().await.is_ok()
            }
            _ => false,
        };
        if !reusable {
            self.connection = Some(self.connect(url).await?);
        }
        self.connection
            .as_mut()
            .map(|open| &mut open.sender)
            .ok_or_else(|| GetError::Request("no connection".into()))
    }

    async fn connect(&self, url: &BundleUrl) -> Result<OpenConnection, GetError> {
        let address = format!("{}:{}", url.host(), url.port());
        let tcp = TcpStream::connect((url.host(), url.port()))
            .await
            .map_err(|source| GetError::Connect {
                address: address.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let sender = match (&self.tls, url.is_https()) {
            (Some(tls), true) => {
                let name = ServerName::try_from(url.host().to_owned())
                    .map_err(|_| GetError::ServerName(url.host().to_owned()))?;
                let stream = tls
                    .connect(name, tcp)
                    .await
                    .map_err(|source| GetError::Tls {
                        host: url.host().to_owned(),
                        source,
                    })?;
                handshake(stream).await?
            }
            (None, true) => {
                return Err(GetError::Request(
                    "https needs a TLS client configuration".into(),
                ))
            }
            (_, false) => handshake(tcp).await?,
        };
        Ok(OpenConnection {
            host: url.host().to_owned(),
            port: url.port(),
            sender,
        })
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Empty<Bytes>>, GetError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
