//! Mesh identity: who a workload is and how it proves it. Loads a workload certificate directory
//! (SPIFFE X.509-SVID, trust bundle), builds the rustls configs of mutual TLS (inbound: verify
//! callers against the bundle; outbound: accept only the destination's SPIFFE ID), tells the
//! verified peer's identity, rotates certificates by file watch, and counts what fails.
//!
//! Data flows: `cert_files` → `workload_cert` (checked once) → `identity_store` (in force, swapped
//! on rotation by `cert_watch`) → `cert_resolver` + `peer_cert_verifier` (inbound) /
//! `server_identity_verifier` (outbound) → `inbound` / `outbound` configs.

pub mod cert_files;
pub mod cert_resolver;
pub mod cert_watch;
pub mod handshake_failure;
pub mod identity_metrics;
pub mod identity_store;
pub mod inbound;
pub mod outbound;
pub mod peer_cert_verifier;
pub mod server_identity_verifier;
pub mod spiffe_id;
pub mod workload_cert;
pub mod x509_facts;

pub use cert_watch::{watch_cert_dir, CertWatchOptions, CertWatcher};
pub use handshake_failure::{explain_handshake_error, identity_mismatch, HandshakeFailure};
pub use identity_metrics::{Direction, IdentityMetrics};
pub use identity_store::IdentityStore;
pub use inbound::{inbound_server_config, peer_identity, PeerAuthentication, PeerIdentityError};
pub use outbound::{endpoint_server_name, OutboundTls};
pub use server_identity_verifier::IdentityMismatch;
pub use spiffe_id::{SpiffeId, SpiffeIdError, TrustDomain};
pub use workload_cert::{CertLoadError, WorkloadCert};
