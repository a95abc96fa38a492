//! Verifies a calling peer's client certificate (inbound): webpki's chain check against the
//! current trust bundle, then the SPIFFE rule that the certificate names exactly one workload. A
//! chain from another CA, an expired certificate or one without a SPIFFE ID fails the handshake,
//! so a connection that completes always has a usable peer identity (or none, in permissive mode).

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, UnixTime};
use tokio_rustls::rustls::client::danger::HandshakeSignatureValid;
use tokio_rustls::rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider,
};
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error as TlsError, OtherError,
    SignatureScheme,
};

use super::identity_store::IdentityStore;
use super::x509_facts::spiffe_id_of;
use crate::crypto_provider::crypto_provider;

/// Client certificate verification against the store's current bundle.
#[derive(Debug)]
pub struct PeerCertVerifier {
    store: IdentityStore,
    mandatory: bool,
    provider: Arc<CryptoProvider>,
}

impl PeerCertVerifier {
    /// A verifier; `mandatory` refuses clients that present no certificate.
    pub fn new(store: IdentityStore, mandatory: bool) -> PeerCertVerifier {
        PeerCertVerifier {
            store,
            mandatory,
            provider: crypto_provider(),
        }
    }
}

impl ClientCertVerifier for PeerCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    // The bundle can rotate, so its subjects cannot be lent from here; an empty list tells the
    // client to send the certificate it has, which is what a workload does anyway.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, TlsError> {
        self.store.with_current(|cert| {
            cert.client_verifier
                .verify_client_cert(end_entity, intermediates, now)
        })?;
        spiffe_id_of(end_entity).map_err(|error| {
            TlsError::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(error))))
        })?;
        Ok(ClientCertVerified::assertion())
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
