//! The one rustls crypto provider of the process. Every TLS configuration meshd builds (gateway
//! listeners in `server/tls_config.rs`, the mesh's mTLS server and client configurations and
//! certificate checks in `mesh/identity/`) takes its provider and session ticketer from here, so
//! the choice is made, measured and changed in one place.
//!
//! The provider is *ring* (rustls' own; measured against aws-lc-rs in BENCHMARKS.md, "TLS
//! handshakes"). Its TLS 1.3 suites are ordered with TLS13_AES_128_GCM_SHA256 first (BoringSSL's
//! and so Envoy's first choice too), then ring's default order: where meshd is the client (the
//! mesh) its key schedule, transcript and ticket HMACs then run on SHA-256 rather than the SHA-384
//! of rustls' default first suite, most of a resumed handshake's hashing
//! (`docs/mesh-identity.md` has the counts). A server follows the client's preference.

use std::sync::{Arc, LazyLock};

use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::server::ProducesTickets;
use tokio_rustls::rustls::CipherSuite;

static PROVIDER: LazyLock<Arc<CryptoProvider>> = LazyLock::new(|| {
    let mut provider = ring::default_provider();
    provider
        .cipher_suites
        .sort_by_key(|suite| suite.suite() != CipherSuite::TLS13_AES_128_GCM_SHA256);
    Arc::new(provider)
});

/// The provider every TLS configuration is built with (one instance for the process, so
/// building a configuration allocates no provider tables and no handshake builds one).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::clone(&PROVIDER)
}

/// A source of TLS 1.3 session tickets: ChaCha20-Poly1305 under random keys that rotate every
/// 6 hours (a ticket lives 12), never written anywhere.
pub fn session_ticketer() -> Result<Arc<dyn ProducesTickets>, tokio_rustls::rustls::Error> {
    ring::Ticketer::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_128_gcm_comes_first_and_no_suite_is_lost() {
        let provider = crypto_provider();
        assert_eq!(
            provider.cipher_suites[0].suite(),
            CipherSuite::TLS13_AES_128_GCM_SHA256
        );
        assert_eq!(
            provider.cipher_suites.len(),
            ring::default_provider().cipher_suites.len()
        );
    }

    #[test]
    fn every_configuration_shares_one_provider() {
        assert!(Arc::ptr_eq(&crypto_provider(), &crypto_provider()));
    }
}
