//! What meshd reads from an X.509 certificate beyond what webpki checks: the SPIFFE ID in its URI
//! SAN, its serial and its validity period. Parsed with `x509-parser` (webpki verifies chains but
//! does not expose URI SANs; the crate is already in the tree through rcgen's CA-loading feature).
//!
//! An X.509-SVID carries exactly one URI SAN, and it is a SPIFFE ID (SPIFFE X509-SVID §2); a
//! certificate with none, several, or a malformed one names no workload and is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::spiffe_id::{SpiffeId, SpiffeIdError};

/// Why a certificate names no SPIFFE identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SanError {
    /// The DER does not parse as an X.509 certificate.
    #[error("the certificate does not parse as X.509: {0}")]
    Unparseable(String),
    /// No URI SAN at all.
    #[error("the certificate has no URI SAN, so it names no SPIFFE identity")]
    NoUri,
    /// More than one URI SAN (an X.509-SVID has exactly one).
    #[error("the certificate has {0} URI SANs; an X.509-SVID has exactly one")]
    ManyUris(usize),
    /// The URI SAN is not a valid SPIFFE ID.
    #[error("the certificate's URI SAN is not a SPIFFE ID: {0}")]
    NotSpiffe(SpiffeIdError),
}

/// The facts of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// The SPIFFE ID, or why there is none.
    pub spiffe_id: Result<SpiffeId, SanError>,
    /// The serial number in lowercase hex, no separators (as `openssl x509 -serial` prints it).
    pub serial: String,
    /// Start of the validity period.
    pub not_before: SystemTime,
    /// End of the validity period.
    pub not_after: SystemTime,
    /// Whether basicConstraints says this is a CA.
    pub is_ca: bool,
}

impl CertFacts {
    /// Reads the facts of a DER certificate.
    pub fn of(der: &[u8]) -> Result<CertFacts, SanError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|error| SanError::Unparseable(error.to_string()))?;
        let validity = cert.validity();
        Ok(CertFacts {
            spiffe_id: spiffe_id_in(&cert),
            serial: hex::encode(trim_sign_byte(cert.raw_serial())),
            not_before: system_time(validity.not_before.timestamp()),
            not_after: system_time(validity.not_after.timestamp()),
            is_ca: cert.is_ca(),
        })
    }

    /// The seconds from `now` until the end of the validity period (negative once expired).
    pub fn seconds_until_expiry(&self, now: SystemTime) -> f64 {
        match self.not_after.duration_since(now) {
            Ok(left) => left.as_secs_f64(),
            Err(past) => -past.duration().as_secs_f64(),
        }
    }
}

/// The SPIFFE ID of a DER certificate: the cheap path for a peer's certificate on each handshake.
pub fn spiffe_id_of(der: &[u8]) -> Result<SpiffeId, SanError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|error| SanError::Unparseable(error.to_string()))?;
    spiffe_id_in(&cert)
}

/// The end of a DER certificate's validity period.
pub fn not_after_of(der: &[u8]) -> Result<SystemTime, SanError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|error| SanError::Unparseable(error.to_string()))?;
    Ok(system_time(cert.validity().not_after.timestamp()))
}

fn spiffe_id_in(cert: &X509Certificate<'_>) -> Result<SpiffeId, SanError> {
    let san = cert
        .subject_alternative_name()
        .map_err(|error| SanError::Unparseable(error.to_string()))?;
    let mut uris = san.iter().flat_map(|san| {
        san.value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::URI(uri) => Some(*uri),
                _ => None,
            })
    });
    let first = uris.next().ok_or(SanError::NoUri)?;
    let others = uris.count();
    if others > 0 {
        return Err(SanError::ManyUris(others + 1));
    }
    SpiffeId::parse(first).map_err(SanError::NotSpiffe)
}

/// DER integers carry a leading zero byte when the top bit is set; the serial is the number.
fn trim_sign_byte(serial: &[u8]) -> &[u8] {
    match serial {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => serial,
    }
}

fn system_time(unix_seconds: i64) -> SystemTime {
    if unix_seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix_seconds.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(unix_seconds.unsigned_abs())
    }
}
