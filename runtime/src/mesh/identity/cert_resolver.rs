//! Presents the current workload certificate in every handshake, as a server (inbound) and as a
//! client (outbound): one `ArcSwap` load and one reference count per handshake, no config rebuilt.

use std::sync::Arc;

use tokio_rustls::rustls::client::ResolvesClientCert;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::SignatureScheme;

use super::identity_store::IdentityStore;

/// Resolves to whatever certificate the store holds at handshake time.
#[derive(Debug, Clone)]
pub struct CurrentCert(pub IdentityStore);

impl CurrentCert {
    fn certified_key(&self) -> Arc<CertifiedKey> {
        self.0.with_current(|cert| Arc::clone(&cert.certified_key))
    }
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.certified_key())
    }
}

impl ResolvesClientCert for CurrentCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.certified_key())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
