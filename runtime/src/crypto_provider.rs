//! The one rustls crypto provider of the process. Every TLS configuration meshd builds (gateway
//! listeners, and the mesh's mTLS server and client configs) takes its provider and session
//! ticket keys from here, so the choice is made, measured and changed in one place.
//!
//! The provider is *ring*: rustls' own, already a dependency, and measured here against
//! aws-lc-rs in BENCHMARKS.md ("TLS handshakes").

use std::sync::{Arc, LazyLock};

use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::server::ProducesTickets;

static PROVIDER: LazyLock<Arc<CryptoProvider>> =
    LazyLock::new(|| Arc::new(ring::default_provider()));

/// The provider every TLS configuration is built with (one instance for the process, so
/// building a configuration allocates no provider tables).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::clone(&PROVIDER)
}

/// A source of TLS 1.3 session tickets: ChaCha20-Poly1305 under random keys that rotate every
/// 6 hours (a ticket lives 12), never written anywhere.
pub fn session_ticketer() -> Result<Arc<dyn ProducesTickets>, tokio_rustls::rustls::Error> {
    ring::Ticketer::new()
}
