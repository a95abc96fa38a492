//! The one rustls crypto provider of the mesh: `ring`, as the gateway's TLS listeners use. Built
//! once per process, so that configs share it and no handshake builds one.
//!
//! Both ends of a mesh connection are meshd, so the cipher suite order is ours to choose:
//! TLS13_AES_128_GCM_SHA256 first (BoringSSL's and so Envoy's first choice too), then ring's
//! default order. Its key schedule, transcript and ticket HMACs run on SHA-256 rather than the
//! SHA-384 of rustls' default first suite, which is most of a resumed handshake's hashing
//! (`docs/mesh-identity.md` has the counts).

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::CipherSuite;

/// The process's mesh crypto provider.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| {
        let mut provider = ring::default_provider();
        provider
            .cipher_suites
            .sort_by_key(|suite| suite.suite() != CipherSuite::TLS13_AES_128_GCM_SHA256);
        Arc::new(provider)
    }))
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
}
