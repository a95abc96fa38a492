//! This process's mesh identity: its workload certificate (loaded and checked at start, watched
//! for rotation), the outbound mTLS configs that present it, and the identity metrics. A sidecar
//! always has one; the gateway has one when `meshd run --mesh-certs DIR` gives it.

use std::path::Path;
use std::sync::Arc;

use crate::metrics::Metrics;
use crate::state::MeshTlsSetup;

use super::identity::{
    watch_cert_dir, CertLoadError, CertWatchOptions, CertWatcher, IdentityMetrics, IdentityStore,
    OutboundTls,
};

/// Why the workload identity cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadIdentityError {
    /// The certificate directory is refused (expired, foreign, missing files…).
    #[error(transparent)]
    Certificate(#[from] CertLoadError),
    /// The directory cannot be watched for rotation.
    #[error(transparent)]
    Watch(#[from] super::identity::cert_watch::CertWatchError),
}

/// A loaded workload identity, watched for rotation while it lives.
#[derive(Debug)]
pub struct WorkloadIdentity {
    /// The certificate in force.
    pub store: IdentityStore,
    /// Handshake failures, rotations, expiry.
    pub metrics: IdentityMetrics,
    /// Calling other workloads with it.
    pub tls: MeshTlsSetup,
    _watcher: CertWatcher,
}

impl WorkloadIdentity {
    /// Loads `dir` (refusing an expired or foreign certificate), registers the identity metrics
    /// in `metrics` and starts watching the files.
    pub fn load(dir: &Path, metrics: &Metrics) -> Result<WorkloadIdentity, WorkloadIdentityError> {
        let store = IdentityStore::load(dir)?;
        let identity_metrics = IdentityMetrics::new();
        metrics.register(|registry| identity_metrics.register(registry));
        identity_metrics.watch_expiry(&store);
        let watcher = watch_cert_dir(
            store.clone(),
            identity_metrics.clone(),
            CertWatchOptions::default(),
        )?;
        // One config family per upstream protocol: ALPN tells the peer sidecar which to serve.
        let outbound = Arc::new(OutboundTls::new(store.clone(), &[b"http/1.1"]));
        let outbound_h2 = Arc::new(OutboundTls::new(store.clone(), &[b"h2"]));
        Ok(WorkloadIdentity {
            tls: MeshTlsSetup {
                outbound,
                outbound_h2,
                metrics: identity_metrics.clone(),
            },
            store,
            metrics: identity_metrics,
            _watcher: watcher,
        })
    }

    /// The SPIFFE ID the certificate in force names.
    pub fn identity(&self) -> String {
        self.store.current().identity.to_string()
    }
}
