//! The one rustls crypto provider of the mesh: `ring`, as the gateway's TLS listeners use. Built
//! once per process, so that configs share it and no handshake builds one.

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls::crypto::{ring, CryptoProvider};

/// The process's mesh crypto provider.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(ring::default_provider())))
}
