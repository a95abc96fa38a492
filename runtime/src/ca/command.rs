//! `meshd ca`: the command line of the development CA (init, issue, check). Parses arguments,
//! prints what was written and chooses the exit code: 0 done, 1 refused (with the reason on
//! stderr), 2 usage (clap).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{ArgGroup, Subcommand};

use crate::mesh::identity::{SpiffeId, TrustDomain, WorkloadCert};

use super::key_algorithm::KeyAlgorithm;
use super::mesh_ca::{init_ca, MeshCa};
use super::workload_issue::{issue_workload_cert, WorkloadRequest};

/// A small mesh CA for development and tests (production certificates come from SPIRE or
/// cert-manager as files).
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create a mesh trust anchor (root CA) in DIR: ca.crt and ca.key (mode 0600).
    Init {
        /// The CA directory (created if missing).
        dir: PathBuf,
        /// The trust domain: identities are `spiffe://<trust-domain>/<name>`.
        #[arg(long, value_name = "NAME")]
        trust_domain: String,
        /// The CA's lifetime, e.g. `365d`, `8760h`.
        #[arg(long, value_name = "DURATION", default_value = "365d", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// The key algorithm.
        #[arg(long, value_enum, default_value_t)]
        key_type: KeyAlgorithm,
        /// Replace a CA already in DIR.
        #[arg(long)]
        force: bool,
    },
    /// Issue a workload certificate from the CA in CA_DIR into --out: tls.crt, tls.key (0600)
    /// and ca.crt, the names cert-manager writes.
    #[command(group(ArgGroup::new("who").required(true).args(["service", "gateway", "identity"])))]
    Issue {
        /// The CA directory (from `meshd ca init`).
        ca_dir: PathBuf,
        /// A service of the mesh: identity `spiffe://<trust-domain>/<NAME>`.
        #[arg(long, value_name = "NAME")]
        service: Option<String>,
        /// A gateway of the mesh: identity `spiffe://<trust-domain>/<NAME>`.
        #[arg(long, value_name = "NAME")]
        gateway: Option<String>,
        /// An explicit SPIFFE ID in the CA's trust domain (`spiffe://starfleet/ns/bridge/picard`).
        #[arg(long, value_name = "SPIFFE_ID")]
        identity: Option<String>,
        /// The directory to write (created if missing; files in it are replaced atomically).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The certificate's lifetime, e.g. `24h`, `90m`.
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// A DNS name SAN to add (repeatable).
        #[arg(long, value_name = "NAME")]
        dns: Vec<String>,
        /// An IP address SAN to add (repeatable).
        #[arg(long, value_name = "ADDR")]
        ip: Vec<IpAddr>,
        /// The key algorithm.
        #[arg(long, value_enum, default_value_t)]
        key_type: KeyAlgorithm,
    },
    /// Check a workload certificate directory as a sidecar loads it (exit 1 with the reason if
    /// it would be refused). Reads meshd's, cert-manager's and SPIRE's file names.
    Check {
        /// The directory.
        dir: PathBuf,
    },
}

/// Runs a `meshd ca` command.
pub fn run_ca_command(command: CaCommand) -> ExitCode {
    let result = match command {
        CaCommand::Init {
            dir,
            trust_domain,
            ttl,
            key_type,
            force,
        } => init(&dir, &trust_domain, ttl, key_type, force),
        CaCommand::Issue {
            ca_dir,
            service,
            gateway,
            identity,
            out,
            ttl,
            dns,
            ip,
            key_type,
        } => issue(
            &ca_dir,
            Who::from_flags(service, gateway, identity),
            &out,
            ttl,
            dns,
            ip,
            key_type,
        ),
        CaCommand::Check { dir } => check(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init(
    dir: &Path,
    trust_domain: &str,
    ttl: Duration,
    key_type: KeyAlgorithm,
    force: bool,
) -> Result<(), String> {
    let domain = TrustDomain::new(trust_domain).map_err(|error| error.to_string())?;
    let created = init_ca(dir, &domain, key_type, ttl, force).map_err(|error| error.to_string())?;
    println!(
        "created the mesh CA of trust domain `{domain}` ({})",
        domain.id()
    );
    println!(
        "  certificate: {} (the trust bundle)",
        created.cert.display()
    );
    println!("  key:         {} (mode 0600)", created.key.display());
    println!(
        "  serial {}, valid until {}",
        created.serial,
        humantime::format_rfc3339_seconds(created.not_after)
    );
    Ok(())
}

enum Who {
    Named(String),
    Identity(String),
}

impl Who {
    fn from_flags(
        service: Option<String>,
        gateway: Option<String>,
        identity: Option<String>,
    ) -> Who {
        match (service.or(gateway), identity) {
            (_, Some(identity)) => Who::Identity(identity),
            (Some(name), None) => Who::Named(name),
            // clap's required group gives one of the three.
            (None, None) => Who::Named(String::new()),
        }
    }
}

fn issue(
    ca_dir: &Path,
    who: Who,
    out: &Path,
    ttl: Duration,
    dns: Vec<String>,
    ips: Vec<IpAddr>,
    algorithm: KeyAlgorithm,
) -> Result<(), String> {
    let ca = MeshCa::open(ca_dir).map_err(|error| error.to_string())?;
    let identity = match who {
        Who::Named(name) => ca
            .trust_domain
            .workload(&name)
            .ok()
            .filter(|_| !name.contains('/'))
            .ok_or_else(|| {
                format!(
                    "`{name}` is not a mesh name: use letters, digits, `.`, `-` and `_` \
                     (or --identity for a longer SPIFFE ID path)"
                )
            })?,
        Who::Identity(text) => SpiffeId::parse(&text).map_err(|error| error.to_string())?,
    };
    let request = WorkloadRequest {
        identity,
        ttl,
        dns,
        ips,
        algorithm,
    };
    let issued = issue_workload_cert(&ca, &request, out).map_err(|error| error.to_string())?;
    println!("issued {} (serial {})", issued.identity, issued.serial);
    println!(
        "  valid until {}",
        humantime::format_rfc3339_seconds(issued.not_after)
    );
    for file in &issued.files {
        println!("  {}", file.display());
    }
    Ok(())
}

fn check(dir: &Path) -> Result<(), String> {
    let cert = WorkloadCert::load(dir).map_err(|error| error.to_string())?;
    let left = cert.facts.seconds_until_expiry(SystemTime::now()).max(0.0);
    println!(
        "ok: {} (serial {}), valid until {} ({} left); {} files in {}",
        cert.identity,
        cert.facts.serial,
        humantime::format_rfc3339_seconds(cert.facts.not_after),
        humantime::format_duration(Duration::from_secs(left as u64)),
        cert.paths.names.writer,
        cert.paths.dir.display()
    );
    Ok(())
}
