//! Issues a short-lived workload certificate (an X.509-SVID) from a mesh CA: a fresh key, a
//! certificate whose only URI SAN is the workload's SPIFFE ID, for both TLS client and server
//! use, and the trust bundle, written as cert-manager writes them (`tls.crt`, `tls.key`,
//! `ca.crt`). Re-issuing into the same directory is a rotation a running sidecar picks up.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType};

use crate::mesh::identity::cert_files::CERT_MANAGER;
use crate::mesh::identity::x509_facts::CertFacts;
use crate::mesh::identity::SpiffeId;

use super::key_algorithm::KeyAlgorithm;
use super::mesh_ca::{random_serial, set_validity, CaError, MeshCa};
use super::pem_files::{create_private_dir, write_pem, FileMode};

/// What to issue.
#[derive(Debug, Clone)]
pub struct WorkloadRequest {
    /// The SPIFFE ID (its trust domain must be the CA's).
    pub identity: SpiffeId,
    /// The lifetime.
    pub ttl: Duration,
    /// Extra DNS SANs (for clients that check a host name too).
    pub dns: Vec<String>,
    /// Extra IP SANs.
    pub ips: Vec<IpAddr>,
    /// The key algorithm.
    pub algorithm: KeyAlgorithm,
}

/// What was written.
#[derive(Debug)]
pub struct IssuedCert {
    /// The SPIFFE ID.
    pub identity: SpiffeId,
    /// The serial, hex.
    pub serial: String,
    /// The end of its validity.
    pub not_after: SystemTime,
    /// The certificate, key and bundle files.
    pub files: [PathBuf; 3],
}

/// Issues `request` from `ca` into `out`.
pub fn issue_workload_cert(
    ca: &MeshCa,
    request: &WorkloadRequest,
    out: &Path,
) -> Result<IssuedCert, CaError> {
    let identity = &request.identity;
    if identity.trust_domain() != ca.trust_domain {
        return Err(CaError::Request(format!(
            "{identity} is outside the CA's trust domain `{}`; a CA signs only its own",
            ca.trust_domain
        )));
    }
    if !identity.is_workload() {
        return Err(CaError::Request(format!(
            "{identity} names the trust domain itself; give a workload, e.g. {}",
            ca.trust_domain.id().as_str().to_string() + "/picard"
        )));
    }
    let expires = SystemTime::now() + request.ttl;
    if expires > ca.not_after {
        return Err(CaError::Request(format!(
            "the certificate would be valid until {}, after the CA expires ({}); shorten --ttl or \
             create a new CA",
            humantime::format_rfc3339_seconds(expires),
            humantime::format_rfc3339_seconds(ca.not_after)
        )));
    }
    let key = request.algorithm.generate()?;
    let params = workload_params(request)?;
    let cert = params.signed_by(&key, &ca.issuer()?)?;
    let facts = CertFacts::of(cert.der()).map_err(|error| CaError::Request(error.to_string()))?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CaError::Io { path, source }
    };
    create_private_dir(out).map_err(io(out))?;
    let chain = out.join(CERT_MANAGER.chain);
    let key_file = out.join(CERT_MANAGER.key);
    let bundle = out.join(CERT_MANAGER.bundle);
    // Bundle first (it does not change), then key, then certificate: a watcher sees at most one
    // moment where key and certificate disagree, which it refuses and retries.
    write_pem(&bundle, &ca.cert_pem, FileMode::Public).map_err(io(&bundle))?;
    write_pem(&key_file, &key.serialize_pem(), FileMode::Secret).map_err(io(&key_file))?;
    write_pem(&chain, &cert.pem(), FileMode::Public).map_err(io(&chain))?;
    Ok(IssuedCert {
        identity: identity.clone(),
        serial: facts.serial,
        not_after: facts.not_after,
        files: [chain, key_file, bundle],
    })
}

fn workload_params(request: &WorkloadRequest) -> Result<CertificateParams, CaError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let common_name = request
        .identity
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Meshwork");
    params.subject_alt_names = vec![SanType::URI(request.identity.as_str().try_into()?)];
    for name in &request.dns {
        let not_dns = || CaError::Request(format!("`{name}` is not a DNS name"));
        rustls_pki_types::DnsName::try_from(name.as_str()).map_err(|_| not_dns())?;
        params.subject_alt_names.push(SanType::DnsName(
            name.as_str().try_into().map_err(|_| not_dns())?,
        ));
    }
    params
        .subject_alt_names
        .extend(request.ips.iter().copied().map(SanType::IpAddress));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, request.ttl)?;
    params.serial_number = Some(random_serial()?);
    Ok(params)
}
