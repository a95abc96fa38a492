//! Why a mesh TLS handshake failed, as one of a fixed set of reasons: the label of
//! `meshd_tls_handshake_failures_total`, so the label set stays bounded whatever a peer sends.

use std::io;

use tokio_rustls::rustls::{CertificateError, Error as TlsError, InvalidMessage};

use super::inbound::PeerIdentityError;
use super::server_identity_verifier::IdentityMismatch;
use super::x509_facts::SanError;

/// The reason of a failed handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HandshakeFailure {
    /// The peer's chain does not lead to the trust bundle (another CA, a self-signed certificate).
    UnknownCa,
    /// The peer's certificate is expired or not yet valid.
    Expired,
    /// The chain verifies but the identity is wrong: another workload than expected (an
    /// impostor server), or no usable SPIFFE ID.
    BadIdentity,
    /// Another certificate problem: bad signature, wrong key usage, malformed.
    BadCertificate,
    /// A strict listener's caller presented no certificate.
    NoClientCert,
    /// The peer refused us (it sent an alert: our certificate, or the protocol).
    PeerRefused,
    /// The peer does not speak TLS (plaintext to a TLS port).
    NotTls,
    /// A TLS protocol error or incompatibility (no common version, cipher suite or ALPN).
    Protocol,
    /// The connection failed underneath (reset, closed, timed out).
    Io,
    /// Anything else.
    Other,
}

impl HandshakeFailure {
    /// Every reason, in label order.
    pub const ALL: [HandshakeFailure; 10] = [
        HandshakeFailure::UnknownCa,
        HandshakeFailure::Expired,
        HandshakeFailure::BadIdentity,
        HandshakeFailure::BadCertificate,
        HandshakeFailure::NoClientCert,
        HandshakeFailure::PeerRefused,
        HandshakeFailure::NotTls,
        HandshakeFailure::Protocol,
        HandshakeFailure::Io,
        HandshakeFailure::Other,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeFailure::UnknownCa => "unknown_ca",
            HandshakeFailure::Expired => "expired",
            HandshakeFailure::BadIdentity => "bad_identity",
            HandshakeFailure::BadCertificate => "bad_certificate",
            HandshakeFailure::NoClientCert => "no_client_cert",
            HandshakeFailure::PeerRefused => "peer_refused",
            HandshakeFailure::NotTls => "not_tls",
            HandshakeFailure::Protocol => "protocol",
            HandshakeFailure::Io => "io",
            HandshakeFailure::Other => "other",
        }
    }

    /// Classifies the error of a tokio-rustls `accept` or `connect` (rustls errors travel inside
    /// `io::Error`s there).
    pub fn of_io(error: &io::Error) -> HandshakeFailure {
        if let Some(tls) = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<TlsError>())
        {
            return HandshakeFailure::of_tls(tls);
        }
        match error.kind() {
            io::ErrorKind::InvalidData => HandshakeFailure::Protocol,
            _ => HandshakeFailure::Io,
        }
    }

    /// Classifies a rustls error.
    pub fn of_tls(error: &TlsError) -> HandshakeFailure {
        match error {
            TlsError::InvalidCertificate(certificate) => of_certificate(certificate),
            TlsError::NoCertificatesPresented => HandshakeFailure::NoClientCert,
            TlsError::AlertReceived(_) => HandshakeFailure::PeerRefused,
            TlsError::InvalidMessage(
                InvalidMessage::InvalidContentType | InvalidMessage::UnknownProtocolVersion,
            ) => HandshakeFailure::NotTls,
            TlsError::InvalidMessage(_)
            | TlsError::InappropriateMessage { .. }
            | TlsError::InappropriateHandshakeMessage { .. }
            | TlsError::PeerIncompatible(_)
            | TlsError::PeerMisbehaved(_)
            | TlsError::NoApplicationProtocol
            | TlsError::DecryptError => HandshakeFailure::Protocol,
            _ => HandshakeFailure::Other,
        }
    }
}

fn of_certificate(error: &CertificateError) -> HandshakeFailure {
    match error {
        CertificateError::UnknownIssuer => HandshakeFailure::UnknownCa,
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => HandshakeFailure::Expired,
        CertificateError::NotValidForName
        | CertificateError::NotValidForNameContext { .. }
        | CertificateError::ApplicationVerificationFailure => HandshakeFailure::BadIdentity,
        CertificateError::Other(other) => {
            let inner = &*other.0;
            if inner.is::<IdentityMismatch>()
                || inner.is::<SanError>()
                || inner.is::<PeerIdentityError>()
            {
                HandshakeFailure::BadIdentity
            } else {
                HandshakeFailure::BadCertificate
            }
        }
        _ => HandshakeFailure::BadCertificate,
    }
}

/// A log line's worth of why a handshake failed. rustls shows errors of our verifiers through
/// their `Debug`; this shows their message instead.
pub fn explain_handshake_error(error: &io::Error) -> String {
    let inner = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TlsError>());
    match inner {
        Some(TlsError::InvalidCertificate(CertificateError::Other(other))) => {
            format!("invalid peer certificate: {}", other.0)
        }
        _ => error.to_string(),
    }
}

/// The identity mismatch inside a failed outbound handshake, if that is why it failed: the caller
/// answers 502 and counts an impostor rather than a generic TLS failure.
pub fn identity_mismatch(error: &io::Error) -> Option<&IdentityMismatch> {
    let tls = error.get_ref()?.downcast_ref::<TlsError>()?;
    match tls {
        TlsError::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<IdentityMismatch>()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio_rustls::rustls::{AlertDescription, OtherError};

    use super::super::spiffe_id::SpiffeId;
    use super::*;

    #[test]
    fn rustls_errors_map_to_bounded_reasons() {
        let cases = [
            (
                TlsError::InvalidCertificate(CertificateError::UnknownIssuer),
                "unknown_ca",
            ),
            (
                TlsError::InvalidCertificate(CertificateError::Expired),
                "expired",
            ),
            (TlsError::NoCertificatesPresented, "no_client_cert"),
            (
                TlsError::AlertReceived(AlertDescription::UnknownCA),
                "peer_refused",
            ),
            (
                TlsError::InvalidMessage(InvalidMessage::InvalidContentType),
                "not_tls",
            ),
            (
                TlsError::InvalidCertificate(CertificateError::BadSignature),
                "bad_certificate",
            ),
            (TlsError::General("x".into()), "other"),
        ];
        for (error, reason) in cases {
            assert_eq!(HandshakeFailure::of_tls(&error).as_str(), reason, "{error}");
        }
    }

    #[test]
    fn an_impostor_is_told_apart_through_the_io_error() {
        let mismatch = IdentityMismatch {
            expected: SpiffeId::parse("spiffe://starfleet/riker").unwrap(),
            presented: Ok(SpiffeId::parse("spiffe://starfleet/data").unwrap()),
        };
        let tls = TlsError::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
            mismatch.clone(),
        ))));
        let io = io::Error::new(io::ErrorKind::InvalidData, tls);
        assert_eq!(HandshakeFailure::of_io(&io), HandshakeFailure::BadIdentity);
        assert_eq!(identity_mismatch(&io), Some(&mismatch));
        assert_eq!(
            explain_handshake_error(&io),
            "invalid peer certificate: the server is not spiffe://starfleet/riker: its \
             certificate names spiffe://starfleet/data"
        );
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(HandshakeFailure::of_io(&reset), HandshakeFailure::Io);
        assert_eq!(identity_mismatch(&reset), None);
        let mut labels = HandshakeFailure::ALL.map(HandshakeFailure::as_str).to_vec();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(
            labels.len(),
            HandshakeFailure::ALL.len(),
            "labels are distinct"
        );
    }
}
