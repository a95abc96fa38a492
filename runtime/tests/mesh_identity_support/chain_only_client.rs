//! A plain rustls client for the cases meshd's outbound config cannot express: no client
//! certificate, or one meshd's loader refuses. It checks the server's chain only (mesh SANs are
//! not host names).

use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// A client presenting no certificate.
pub fn anonymous_client(bundle_pem: &str) -> Arc<ClientConfig> {
    Arc::new(anonymous_builder(bundle_pem).with_no_client_auth())
}

/// A client config builder that checks the server's chain only (the mesh SANs are not host
/// names), still to be told its client certificate.
pub fn anonymous_builder(
    bundle_pem: &str,
) -> tokio_rustls::rustls::ConfigBuilder<ClientConfig, tokio_rustls::rustls::client::WantsClientCert>
{
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(bundle_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let verifier = tokio_rustls::rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        meshd::crypto_provider::crypto_provider(),
    )
    .build()
    .unwrap();
    ClientConfig::builder_with_provider(meshd::crypto_provider::crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)))
}

/// Accepts a server whose chain verifies, whatever its name (a test client without SPIFFE).
#[derive(Debug)]
struct ChainOnly(Arc<tokio_rustls::rustls::client::WebPkiServerVerifier>);

impl tokio_rustls::rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &tokio_rustls::rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: tokio_rustls::rustls::pki_types::UnixTime,
    ) -> Result<tokio_rustls::rustls::client::danger::ServerCertVerified, tokio_rustls::rustls::Error>
    {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(tokio_rustls::rustls::Error::InvalidCertificate(
                tokio_rustls::rustls::CertificateError::NotValidForName
                | tokio_rustls::rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(tokio_rustls::rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<tokio_rustls::rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
