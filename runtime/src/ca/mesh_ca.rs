//! The mesh trust anchor of `meshd ca`: a self-signed root CA whose certificate carries the trust
//! domain as its URI SAN (`spiffe://starfleet`, as SPIRE's CAs do), so `ca issue` reads the trust
//! domain from the certificate itself. For development and tests; in production the anchor is
//! SPIRE's or cert-manager's and meshd only reads the files they write.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::mesh::identity::x509_facts::CertFacts;
use crate::mesh::identity::TrustDomain;

use super::key_algorithm::KeyAlgorithm;
use super::pem_files::{create_private_dir, write_pem, FileMode};

/// The CA certificate's file name in a CA directory.
pub const CA_CERT_FILE: &str = "ca.crt";
/// The CA key's file name in a CA directory (mode 0600).
pub const CA_KEY_FILE: &str = "ca.key";

/// Certificates are valid from this long before they are issued, for clocks slightly behind.
pub const BACKDATE: Duration = Duration::from_secs(60);

/// Why a CA cannot be created, read or used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A CA already exists where `init` would write one.
    #[error("{} already holds a CA ({}); use --force to replace it (every certificate it issued stops verifying)", dir.display(), file.display())]
    Exists {
        /// The CA directory.
        dir: PathBuf,
        /// The file found.
        file: PathBuf,
    },
    /// A file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CA files are not a usable mesh CA.
    #[error("{} is not a mesh CA: {reason}", path.display())]
    NotACa {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The CA has expired.
    #[error("the CA {} expired at {}; create a new one with `meshd ca init`", path.display(), humantime::format_rfc3339_seconds(*not_after))]
    Expired {
        /// The CA certificate.
        path: PathBuf,
        /// When it expired.
        not_after: SystemTime,
    },
    /// A certificate requested is not one this CA may issue.
    #[error("{0}")]
    Request(String),
    /// rcgen refused to build a certificate.
    #[error("cannot build the certificate: {0}")]
    Build(#[from] rcgen::Error),
}

/// An opened mesh CA, ready to sign.
#[derive(Debug)]
pub struct MeshCa {
    /// The CA directory.
    pub dir: PathBuf,
    /// The trust domain it signs for.
    pub trust_domain: TrustDomain,
    /// The CA certificate (PEM), which is also the trust bundle.
    pub cert_pem: String,
    /// When the CA expires.
    pub not_after: SystemTime,
    key: KeyPair,
}

/// What `init` created.
#[derive(Debug)]
pub struct CreatedCa {
    /// The certificate file.
    pub cert: PathBuf,
    /// The key file.
    pub key: PathBuf,
    /// The serial, hex.
    pub serial: String,
    /// The end of its validity.
    pub not_after: SystemTime,
}

/// Creates a root CA for `trust_domain` in `dir`.
pub fn init_ca(
    dir: &Path,
    trust_domain: &TrustDomain,
    algorithm: KeyAlgorithm,
    ttl: Duration,
    force: bool,
) -> Result<CreatedCa, CaError> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    if !force {
        if let Some(file) = [&key_path, &cert_path].into_iter().find(|f| f.exists()) {
            return Err(CaError::Exists {
                dir: dir.to_path_buf(),
                file: file.clone(),
            });
        }
    }
    let key = algorithm.generate()?;
    let serial = random_serial()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    // Two CAs of one trust domain must not share a name: chain building matches issuers by name,
    // and a foreign certificate should read as "unknown CA", not as a bad signature.
    let tag = hex::encode(&serial.to_bytes()[..4]);
    params.distinguished_name.push(
        DnType::CommonName,
        format!("{trust_domain} mesh root CA {tag}"),
    );
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Meshwork");
    params.subject_alt_names = vec![SanType::URI(
        trust_domain
            .id()
            .as_str()
            .try_into()
            .map_err(CaError::Build)?,
    )];
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, ttl)?;
    params.serial_number = Some(serial);
    let cert = params.self_signed(&key)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CaError::Io { path, source }
    };
    create_private_dir(dir).map_err(io(dir))?;
    write_pem(&key_path, &key.serialize_pem(), FileMode::Secret).map_err(io(&key_path))?;
    write_pem(&cert_path, &cert.pem(), FileMode::Public).map_err(io(&cert_path))?;
    let facts = CertFacts::of(cert.der()).map_err(|error| CaError::NotACa {
        path: cert_path.clone(),
        reason: error.to_string(),
    })?;
    Ok(CreatedCa {
        cert: cert_path,
        key: key_path,
        serial: facts.serial,
        not_after: facts.not_after,
    })
}

impl MeshCa {
    /// Opens the CA in `dir`, reading its trust domain from the certificate's URI SAN.
    pub fn open(dir: &Path) -> Result<MeshCa, CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| CaError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        let cert_pem = read(&cert_path)?;
        let key_pem = read(&key_path)?;
        let not_a_ca = |path: &Path, reason: String| CaError::NotACa {
            path: path.to_path_buf(),
            reason,
        };
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|error| not_a_ca(&cert_path, error.to_string()))?;
        let facts = CertFacts::of(&der).map_err(|error| not_a_ca(&cert_path, error.to_string()))?;
        if !facts.is_ca {
            return Err(not_a_ca(&cert_path, "it is not a CA certificate".into()));
        }
        let id = facts.spiffe_id.map_err(|error| {
            not_a_ca(
                &cert_path,
                format!("it names no trust domain (`spiffe://<domain>` URI SAN): {error}"),
            )
        })?;
        if id.is_workload() {
            return Err(not_a_ca(
                &cert_path,
                format!("its URI SAN {id} names a workload, not a trust domain"),
            ));
        }
        if facts.not_after < SystemTime::now() {
            return Err(CaError::Expired {
                path: cert_path,
                not_after: facts.not_after,
            });
        }
        let key = KeyPair::from_pem(&key_pem)
            .map_err(|error| not_a_ca(&key_path, format!("not a private key: {error}")))?;
        Ok(MeshCa {
            dir: dir.to_path_buf(),
            trust_domain: id.trust_domain(),
            cert_pem,
            not_after: facts.not_after,
            key,
        })
    }

    /// The signer for certificates this CA issues.
    pub(super) fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, CaError> {
        Ok(Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)?)
    }
}

/// Sets the validity period: from `BACKDATE` ago for `ttl`.
pub(super) fn set_validity(params: &mut CertificateParams, ttl: Duration) -> Result<(), CaError> {
    let now = time::OffsetDateTime::now_utc();
    let ttl = time::Duration::try_from(ttl)
        .map_err(|_| CaError::Request(format!("a lifetime of {ttl:?} is too long")))?;
    params.not_before = now - time::Duration::try_from(BACKDATE).unwrap_or(time::Duration::ZERO);
    params.not_after = now
        .checked_add(ttl)
        .ok_or_else(|| CaError::Request("the lifetime reaches past the year 9999".into()))?;
    Ok(())
}

/// A random positive 128-bit serial (RFC 5280 allows up to 20 octets; CAs use at least 64 bits).
pub(super) fn random_serial() -> Result<SerialNumber, CaError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|error| CaError::Request(format!("no randomness for a serial: {error}")))?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}
