//! The rustls configuration of a TLS listener, from PEM certificate chain and private key.

use std::sync::Arc;

use meshwork_bundle::ListenerTls;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::ServerConfig;

use crate::load::secrets::{describe_secret, SecretStore};

/// Why a listener's TLS cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The certificate or key was not resolved at load (a bug: the store resolves every reference).
    #[error("{0} was not resolved")]
    Unresolved(String),
    /// The certificate chain holds no PEM certificate.
    #[error("the certificate holds no PEM certificate")]
    NoCertificate,
    /// The certificate PEM is malformed.
    #[error("the certificate is not valid PEM: {0}")]
    BadCertificate(String),
    /// The key PEM is malformed or missing.
    #[error("the private key is not a PEM private key: {0}")]
    BadKey(String),
    /// rustls refuses the pair (for example a key that does not match the certificate).
    #[error("the certificate and key are refused: {0}")]
    Refused(String),
}

/// Builds the server configuration: TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`.
pub fn server_config(
    tls: &ListenerTls,
    secrets: &SecretStore,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let read = |reference| {
        secrets
            .get(reference)
            .map(|secret| secret.expose())
            .ok_or_else(|| TlsSetupError::Unresolved(describe_secret(reference)))
    };
    let cert_pem = read(&tls.cert)?;
    let key_pem = read(&tls.key)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsSetupError::BadCertificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificate);
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsSetupError::BadKey(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Refused(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsSetupError::Refused(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
