//! The workload certificate in force, swapped whole on rotation. Every resolver and verifier of
//! the mesh reads it through one `ArcSwap`, so a rotation reaches new handshakes at once and
//! connections already established keep the keys they agreed.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;

use super::workload_cert::{CertLoadError, WorkloadCert};

/// Shared handle on the current workload certificate.
#[derive(Debug, Clone)]
pub struct IdentityStore {
    current: Arc<ArcSwap<WorkloadCert>>,
}

impl IdentityStore {
    /// Loads `dir` (refusing a bad certificate) and holds it.
    pub fn load(dir: &Path) -> Result<IdentityStore, CertLoadError> {
        Ok(IdentityStore::new(WorkloadCert::load(dir)?))
    }

    /// Holds an already checked certificate.
    pub fn new(cert: WorkloadCert) -> IdentityStore {
        IdentityStore {
            current: Arc::new(ArcSwap::from_pointee(cert)),
        }
    }

    /// The certificate in force.
    pub fn current(&self) -> Arc<WorkloadCert> {
        self.current.load_full()
    }

    /// Reads the certificate in force without taking a reference count (the handshake path).
    pub fn with_current<T>(&self, read: impl FnOnce(&WorkloadCert) -> T) -> T {
        read(&self.current.load())
    }

    /// Puts `cert` in force for every handshake from now on.
    pub fn replace(&self, cert: WorkloadCert) {
        self.current.store(Arc::new(cert));
    }

    /// Seconds until the certificate in force expires (negative once it has).
    pub fn seconds_until_expiry(&self) -> f64 {
        self.with_current(|cert| cert.facts.seconds_until_expiry(SystemTime::now()))
    }
}
