//! Loads a workload certificate directory (chain, key, trust bundle) and refuses, with an error
//! that says what to do, anything a peer would refuse later: an expired or not-yet-valid
//! certificate, one that does not chain to the bundle, a key that is not the certificate's, a
//! certificate without exactly one SPIFFE URI SAN. Checked once here, so a sidecar fails at start
//! (or keeps its old certificate on rotation) instead of failing every handshake.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use tokio_rustls::rustls::client::verify_server_cert_signed_by_trust_anchor;
use tokio_rustls::rustls::server::danger::ClientCertVerifier;
use tokio_rustls::rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{CertificateError, Error as TlsError, RootCertStore};

use super::cert_files::{CertPaths, MissingCertFiles};
use super::spiffe_id::SpiffeId;
use super::x509_facts::{CertFacts, SanError};
use crate::crypto_provider::crypto_provider;

/// Why a workload certificate directory is refused.
#[derive(Debug, thiserror::Error)]
pub enum CertLoadError {
    /// The directory holds none of the known file sets.
    #[error(transparent)]
    Missing(#[from] MissingCertFiles),
    /// A file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A certificate file holds no PEM certificate or bad PEM.
    #[error("{} holds no usable PEM certificate: {reason}", path.display())]
    BadCertificatePem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file holds no usable private key.
    #[error("{} holds no usable private key: {reason}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The certificate names no SPIFFE identity.
    #[error("{} is not a workload certificate (X.509-SVID): {reason}", path.display())]
    NoIdentity {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong with its URI SAN.
        reason: SanError,
    },
    /// The certificate names a trust domain, not a workload, or is a CA certificate.
    #[error("{} is not a workload certificate: {reason}", path.display())]
    NotWorkload {
        /// The certificate file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The validity period has not started.
    #[error(
        "{} is not valid yet: it starts at {} ({}s from now); check this machine's clock",
        path.display(), rfc3339(*not_before), seconds_between(*now, *not_before)
    )]
    NotYetValid {
        /// The certificate file.
        path: PathBuf,
        /// When it becomes valid.
        not_before: SystemTime,
        /// The time it was checked at.
        now: SystemTime,
    },
    /// The validity period is over.
    #[error(
        "{} expired at {} ({}s ago); issue a new one (`meshd ca issue`, or renew it in SPIRE or \
         cert-manager)",
        path.display(), rfc3339(*not_after), seconds_between(*not_after, *now)
    )]
    Expired {
        /// The certificate file.
        path: PathBuf,
        /// When it expired.
        not_after: SystemTime,
        /// The time it was checked at.
        now: SystemTime,
    },
    /// The private key is not the certificate's.
    #[error("the private key in {} does not belong to the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The certificate does not chain to the trust bundle.
    #[error("{} does not chain to the trust bundle {}: {reason}", cert.display(), bundle.display())]
    NotChained {
        /// The certificate file.
        cert: PathBuf,
        /// The bundle file.
        bundle: PathBuf,
        /// What the chain check said.
        reason: String,
    },
}

/// The three files' bytes, kept to tell a rewrite with new content from a touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFileContents {
    chain: Vec<u8>,
    key: Vec<u8>,
    bundle: Vec<u8>,
}

impl CertFileContents {
    /// Reads the three files.
    pub fn read(paths: &CertPaths) -> Result<Self, CertLoadError> {
        let read = |path: PathBuf| {
            std::fs::read(&path).map_err(|source| CertLoadError::Read { path, source })
        };
        Ok(CertFileContents {
            chain: read(paths.chain())?,
            key: read(paths.key())?,
            bundle: read(paths.bundle())?,
        })
    }
}

/// A checked workload certificate, ready for rustls.
#[derive(Debug)]
pub struct WorkloadCert {
    /// The workload's SPIFFE ID (its certificate's URI SAN).
    pub identity: SpiffeId,
    /// Serial and validity of the workload's certificate.
    pub facts: CertFacts,
    /// The chain and signing key presented in handshakes.
    pub certified_key: Arc<CertifiedKey>,
    /// The trust bundle, as webpki trust anchors.
    pub roots: Arc<RootCertStore>,
    /// Verifies peers' client certificates against the bundle.
    pub client_verifier: Arc<dyn ClientCertVerifier>,
    /// Where the files are.
    pub paths: CertPaths,
    /// What the files held.
    pub contents: CertFileContents,
}

impl WorkloadCert {
    /// Loads and checks the certificate directory `dir` as of now.
    pub fn load(dir: &Path) -> Result<WorkloadCert, CertLoadError> {
        let paths = CertPaths::locate(dir)?;
        let contents = CertFileContents::read(&paths)?;
        WorkloadCert::check(paths, contents, SystemTime::now())
    }

    /// Checks files already read, as of `now`.
    pub fn check(
        paths: CertPaths,
        contents: CertFileContents,
        now: SystemTime,
    ) -> Result<WorkloadCert, CertLoadError> {
        let chain = parse_certificates(&paths.chain(), &contents.chain)?;
        let bundle = parse_certificates(&paths.bundle(), &contents.bundle)?;
        let key = PrivateKeyDer::from_pem_slice(&contents.key).map_err(|error| {
            CertLoadError::BadKey {
                path: paths.key(),
                reason: error.to_string(),
            }
        })?;
        let (facts, identity) = workload_facts(&paths.chain(), &chain[0])?;
        check_validity(&paths.chain(), &facts, now)?;
        let provider = crypto_provider();
        let certified_key =
            CertifiedKey::from_der(chain.clone(), key, &provider).map_err(|error| match error {
                TlsError::InconsistentKeys(_) => CertLoadError::KeyMismatch {
                    cert: paths.chain(),
                    key: paths.key(),
                },
                other => CertLoadError::BadKey {
                    path: paths.key(),
                    reason: other.to_string(),
                },
            })?;
        let not_chained = |reason: String| CertLoadError::NotChained {
            cert: paths.chain(),
            bundle: paths.bundle(),
            reason,
        };
        let mut roots = RootCertStore::empty();
        for anchor in &bundle {
            roots.add(anchor.clone()).map_err(|error| {
                not_chained(format!("a bundle certificate is refused: {error}"))
            })?;
        }
        let roots = Arc::new(roots);
        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
                .build()
                .map_err(|error| not_chained(error.to_string()))?;
        let unix_now =
            UnixTime::since_unix_epoch(now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO));
        let verified_as_client = client_verifier
            .verify_client_cert(&chain[0], &chain[1..], unix_now)
            .map(|_| ());
        let verified_as_server = ParsedCertificate::try_from(&chain[0]).and_then(|parsed| {
            verify_server_cert_signed_by_trust_anchor(
                &parsed,
                &roots,
                &chain[1..],
                unix_now,
                provider.signature_verification_algorithms.all,
            )
        });
        verified_as_client
            .and(verified_as_server)
            .map_err(|error| not_chained(explain_chain_error(&error)))?;
        Ok(WorkloadCert {
            identity,
            facts,
            certified_key: Arc::new(certified_key),
            roots,
            client_verifier,
            paths,
            contents,
        })
    }
}

fn parse_certificates(
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, CertLoadError> {
    let bad = |reason: String| CertLoadError::BadCertificatePem {
        path: path.to_path_buf(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|error| bad(error.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no `BEGIN CERTIFICATE` block".to_string()));
    }
    Ok(certs)
}

fn workload_facts(
    path: &Path,
    leaf: &CertificateDer<'_>,
) -> Result<(CertFacts, SpiffeId), CertLoadError> {
    let no_identity = |reason| CertLoadError::NoIdentity {
        path: path.to_path_buf(),
        reason,
    };
    let facts = CertFacts::of(leaf).map_err(no_identity)?;
    let identity = facts.spiffe_id.clone().map_err(no_identity)?;
    let not_workload = |reason: String| CertLoadError::NotWorkload {
        path: path.to_path_buf(),
        reason,
    };
    if facts.is_ca {
        return Err(not_workload(format!(
            "it is a CA certificate ({identity}); give the workload's own certificate"
        )));
    }
    if !identity.is_workload() {
        return Err(not_workload(format!(
            "{identity} names a trust domain, not a workload (it has no path)"
        )));
    }
    Ok((facts, identity))
}

fn check_validity(path: &Path, facts: &CertFacts, now: SystemTime) -> Result<(), CertLoadError> {
    if now < facts.not_before {
        return Err(CertLoadError::NotYetValid {
            path: path.to_path_buf(),
            not_before: facts.not_before,
            now,
        });
    }
    if now > facts.not_after {
        return Err(CertLoadError::Expired {
            path: path.to_path_buf(),
            not_after: facts.not_after,
            now,
        });
    }
    Ok(())
}

fn explain_chain_error(error: &TlsError) -> String {
    match error {
        TlsError::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "it was issued by a CA the bundle does not hold".to_string()
        }
        TlsError::InvalidCertificate(CertificateError::BadSignature) => {
            "its issuer's signature does not verify with the bundle's CA of that name (another \
             CA with the same name issued it)"
                .to_string()
        }
        TlsError::InvalidCertificate(CertificateError::InvalidPurpose)
        | TlsError::InvalidCertificate(CertificateError::InvalidPurposeContext { .. }) => {
            "it is not allowed for both TLS client and server authentication (extended key usage)"
                .to_string()
        }
        other => other.to_string(),
    }
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn seconds_between(earlier: SystemTime, later: SystemTime) -> u64 {
    later
        .duration_since(earlier)
        .map(|gap| gap.as_secs())
        .unwrap_or(0)
}
