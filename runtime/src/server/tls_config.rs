//! The rustls configuration of a TLS listener, from PEM certificate chain and private key, with
//! session resumption: TLS 1.3 tickets (stateless) and a session cache (TLS 1.2 session ids),
//! both kept per listener address for the life of the process, so clients keep resuming across
//! reloads and certificate rotations, as with nginx's ticket keys.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use meshwork_bundle::ListenerTls;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{
    ProducesTickets, ServerSessionMemoryCache, StoresServerSessions,
};
use tokio_rustls::rustls::ServerConfig;

use crate::crypto_provider::{crypto_provider, session_ticketer};

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
    /// No randomness for the ticket keys.
    #[error("cannot create session ticket keys: {0}")]
    Tickets(String),
}

/// How many TLS 1.2 sessions a listener remembers (about 100 bytes each); TLS 1.3 clients resume
/// with tickets, which the server does not store.
const SESSION_CACHE_SIZE: usize = 4096;

/// A listener's resumption state, shared by every configuration built for its address.
#[derive(Clone)]
struct Resumption {
    ticketer: Arc<dyn ProducesTickets>,
    cache: Arc<dyn StoresServerSessions>,
}

static RESUMPTION: LazyLock<Mutex<HashMap<String, Resumption>>> = LazyLock::new(Mutex::default);

/// The resumption state of the listener at `address`, created on first use. Listeners never
/// share one: a session is resumed only where it was issued.
fn resumption(address: &str) -> Result<Resumption, TlsSetupError> {
    let mut all = RESUMPTION.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = all.get(address) {
        return Ok(found.clone());
    }
    let created = Resumption {
        ticketer: session_ticketer().map_err(|e| TlsSetupError::Tickets(e.to_string()))?,
        cache: ServerSessionMemoryCache::new(SESSION_CACHE_SIZE),
    };
    all.insert(address.to_string(), created.clone());
    Ok(created)
}

/// Builds the server configuration of the listener at `address`: TLS 1.2 and 1.3, ALPN `h2`
/// then `http/1.1`, session tickets and a session cache.
pub fn server_config(
    address: &str,
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
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Refused(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsSetupError::Refused(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let resumption = resumption(address)?;
    config.ticketer = resumption.ticketer;
    config.session_storage = resumption.cache;
    // One TLS 1.3 ticket per handshake (rustls sends two by default), as OpenSSL does on a
    // resumed one: a client reconnecting serially always holds a fresh ticket, and each ticket
    // costs both sides a record to seal and open (bench/tls.sh: the client's CPU per new
    // connection was 8 % above nginx's with two).
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}
