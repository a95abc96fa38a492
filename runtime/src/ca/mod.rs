//! `meshd ca`: a small mesh CA for development and tests. `init` creates a trust anchor for a
//! trust domain, `issue` writes short-lived workload certificates (SPIFFE X.509-SVIDs) in the
//! files cert-manager writes, `check` loads a certificate directory as a sidecar would. In
//! production the same files come from SPIRE or cert-manager; meshd only reads them
//! ([`crate::mesh::identity`]).

pub mod command;
pub mod key_algorithm;
pub mod mesh_ca;
pub mod pem_files;
pub mod workload_issue;

pub use command::{run_ca_command, CaCommand};
pub use key_algorithm::KeyAlgorithm;
pub use mesh_ca::{init_ca, CaError, MeshCa};
pub use workload_issue::{issue_workload_cert, IssuedCert, WorkloadRequest};
