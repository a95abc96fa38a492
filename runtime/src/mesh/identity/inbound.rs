//! The inbound side of mTLS: a rustls `ServerConfig` that presents the workload's certificate and
//! verifies callers' certificates against the trust bundle, and the caller's SPIFFE ID once the
//! handshake is done. Built once per listener; rotation reaches it through the identity store.
//!
//! TLS 1.3 only, as in Linkerd: every mesh peer is meshd (or a SPIFFE-aware proxy), and 1.3 has
//! one round trip and encrypted certificates. Resumption uses stateless tickets (ring's rotating
//! ticketer), so a caller reconnecting skips the signatures and the chain check.

use std::sync::Arc;
use std::time::SystemTime;

use tokio_rustls::rustls::version::TLS13;
use tokio_rustls::rustls::{CommonState, Error as TlsError, ServerConfig};

use super::cert_resolver::CurrentCert;
use super::identity_store::IdentityStore;
use super::peer_cert_verifier::PeerCertVerifier;
use super::spiffe_id::SpiffeId;
use super::x509_facts::{CertFacts, SanError};
use crate::crypto_provider::{crypto_provider, session_ticketer};

/// Whether callers must present a certificate (Istio's PeerAuthentication modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAuthentication {
    /// A caller without a valid client certificate is refused at the handshake.
    Strict,
    /// A caller may present no certificate; one it presents must still verify.
    Permissive,
}

/// The inbound server configuration for `store`'s identity, offering `alpn` protocols in order.
pub fn inbound_server_config(
    store: &IdentityStore,
    mode: PeerAuthentication,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let verifier = PeerCertVerifier::new(store.clone(), mode == PeerAuthentication::Strict);
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&TLS13])?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(Arc::new(CurrentCert(store.clone())));
    config.ticketer = session_ticketer()?;
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Why a completed connection has no usable peer identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerIdentityError {
    /// The peer's certificate names no SPIFFE ID (refused at the handshake by meshd's verifiers;
    /// reachable only with a config built elsewhere).
    #[error("the peer certificate names no workload: {0}")]
    NoSpiffeId(#[from] SanError),
    /// The peer's certificate has expired since the session was first established (a resumed
    /// session skips the chain check, so its age is checked here).
    #[error("the peer certificate of this resumed session has expired")]
    Expired,
}

/// The verified peer's SPIFFE ID: `Ok(None)` when the peer presented no certificate (permissive
/// mode), an error when the certificate names no workload or has expired.
///
/// Works on a `ServerConnection` (the caller) and a `ClientConnection` (the server called).
pub fn peer_identity(connection: &CommonState) -> Result<Option<SpiffeId>, PeerIdentityError> {
    let Some(leaf) = connection
        .peer_certificates()
        .and_then(|chain| chain.first())
    else {
        return Ok(None);
    };
    let facts = CertFacts::of(leaf)?;
    if facts.not_after < SystemTime::now() {
        return Err(PeerIdentityError::Expired);
    }
    Ok(Some(facts.spiffe_id?))
}
