//! Verifies the server a workload calls (outbound): webpki's chain check against the current trust
//! bundle, then that the server's SPIFFE ID is the one this connection expects. The name the
//! connection was opened with (an endpoint address) is not checked: in a SPIFFE mesh the identity
//! is the URI SAN, and a server with a valid chain but another identity is an impostor, refused
//! with [`IdentityMismatch`] so the caller can tell it from other TLS failures.

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::verify_server_cert_signed_by_trust_anchor;
use tokio_rustls::rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider,
};
use tokio_rustls::rustls::server::ParsedCertificate;
use tokio_rustls::rustls::{
    CertificateError, DigitallySignedStruct, Error as TlsError, OtherError, SignatureScheme,
};

use super::identity_store::IdentityStore;
use super::spiffe_id::SpiffeId;
use super::x509_facts::{spiffe_id_of, SanError};
use crate::crypto_provider::crypto_provider;

/// A server with a valid chain presented another identity than the one expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server is not {expected}: its certificate names {}", presented_text(.presented))]
pub struct IdentityMismatch {
    /// The identity the caller expected (the destination's).
    pub expected: SpiffeId,
    /// What the certificate names instead.
    pub presented: Result<SpiffeId, SanError>,
}

fn presented_text(presented: &Result<SpiffeId, SanError>) -> String {
    match presented {
        Ok(id) => id.to_string(),
        Err(error) => format!("no usable SPIFFE ID ({error})"),
    }
}

/// Server verification pinned to one expected SPIFFE ID.
#[derive(Debug)]
pub struct ServerIdentityVerifier {
    store: IdentityStore,
    expected: SpiffeId,
    provider: Arc<CryptoProvider>,
}

impl ServerIdentityVerifier {
    /// A verifier that accepts only servers whose certificate names `expected`.
    pub fn new(store: IdentityStore, expected: SpiffeId) -> ServerIdentityVerifier {
        ServerIdentityVerifier {
            store,
            expected,
            provider: crypto_provider(),
        }
    }
}

impl ServerCertVerifier for ServerIdentityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let parsed = ParsedCertificate::try_from(end_entity)?;
        self.store.with_current(|cert| {
            verify_server_cert_signed_by_trust_anchor(
                &parsed,
                &cert.roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )
        })?;
        let presented = spiffe_id_of(end_entity);
        if presented.as_ref() != Ok(&self.expected) {
            let mismatch = IdentityMismatch {
                expected: self.expected.clone(),
                presented,
            };
            return Err(TlsError::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(mismatch)),
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
