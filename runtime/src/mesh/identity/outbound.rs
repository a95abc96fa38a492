//! The outbound side of mTLS: rustls `ClientConfig`s that present the workload's certificate and
//! accept only a server whose chain verifies against the bundle and whose SPIFFE ID is the
//! destination's.
//!
//! One config per destination identity, built once (at bundle load) and cached here, rather than
//! one config whose verifier is told the identity per connection: rustls gives a verifier only the
//! server name, and a session resumed from the cache skips verification, so the identity must be
//! part of what the session cache is keyed by. A config per identity, each with its own session
//! cache, makes that true by construction (Envoy does the same per cluster). All of them share the
//! certificate resolver, the trust bundle and the crypto provider, so a rotation reaches every
//! one; what each adds is a small struct and a lazily filled cache (`docs/mesh-identity.md`
//! has the measurements).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rustls_pki_types::ServerName;
use tokio_rustls::rustls::client::Resumption;
use tokio_rustls::rustls::version::TLS13;
use tokio_rustls::rustls::{ClientConfig, Error as TlsError};

use super::cert_resolver::CurrentCert;
use super::identity_store::IdentityStore;
use super::server_identity_verifier::ServerIdentityVerifier;
use super::spiffe_id::SpiffeId;
use crate::crypto_provider::crypto_provider;

/// Server names (endpoints) remembered for resumption per destination identity.
const RESUMPTION_ENDPOINTS: usize = 64;

/// Client configs for calling other workloads, one per destination identity.
#[derive(Debug)]
pub struct OutboundTls {
    store: IdentityStore,
    alpn: Vec<Vec<u8>>,
    configs: Mutex<HashMap<SpiffeId, Arc<ClientConfig>>>,
}

impl OutboundTls {
    /// Configs presenting `store`'s identity and offering `alpn` protocols in order.
    pub fn new(store: IdentityStore, alpn: &[&[u8]]) -> OutboundTls {
        OutboundTls {
            store,
            alpn: alpn.iter().map(|protocol| protocol.to_vec()).collect(),
            configs: Mutex::new(HashMap::new()),
        }
    }

    /// The config for calling a server that must be `expected` (built on first use, then shared).
    pub fn client_config(&self, expected: &SpiffeId) -> Result<Arc<ClientConfig>, TlsError> {
        let mut configs = self.configs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(config) = configs.get(expected) {
            return Ok(Arc::clone(config));
        }
        let config = self.build(expected)?;
        configs.insert(expected.clone(), Arc::clone(&config));
        Ok(config)
    }

    fn build(&self, expected: &SpiffeId) -> Result<Arc<ClientConfig>, TlsError> {
        let verifier = ServerIdentityVerifier::new(self.store.clone(), expected.clone());
        let mut config = ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(Arc::new(CurrentCert(self.store.clone())));
        config.resumption = Resumption::in_memory_sessions(RESUMPTION_ENDPOINTS);
        // The server name is only the resumption cache's key (see `endpoint_server_name`).
        config.enable_sni = false;
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }
}

/// The name to open a connection to `endpoint` with. The identity check does not use it and no
/// SNI is sent; it keys the resumption cache, so it names the address *and port* (two instances
/// on one host have different ticket keys), as a name under the reserved `.invalid` domain:
/// `9101.127-0-0-1.endpoint.invalid`.
pub fn endpoint_server_name(endpoint: SocketAddr) -> ServerName<'static> {
    let host: String = endpoint
        .ip()
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = format!("{}.{host}.endpoint.invalid", endpoint.port());
    match ServerName::try_from(name) {
        Ok(name) => name,
        // Unreachable: digits, letters and dashes in labels under `.invalid` always parse.
        Err(_) => ServerName::IpAddress(endpoint.ip().into()),
    }
}
