//! What `meshd run` says at load about the gateway's own place in the mesh.

use meshwork_bundle::MtlsMode;

use crate::state::RuntimeState;

use super::workload_identity::WorkloadIdentity;

/// Tells the operator when the gateway's calls into the mesh will not be what the bundle asks:
/// a certificate no gateway of the bundle presents, or `mtls strict` without a certificate.
pub fn warn_about_gateway_identity(state: &RuntimeState, identity: Option<&WorkloadIdentity>) {
    let mesh_services = state.services.values().any(|s| s.tls.is_some());
    match identity {
        Some(identity) => {
            let id = identity.identity();
            let known = state
                .gateways
                .iter()
                .any(|g| g.identity.as_deref() == Some(id.as_str()));
            if !known {
                tracing::warn!(identity = %id, "the --mesh-certs certificate is no gateway's identity in the bundle: sidecars judge its calls as an unknown caller");
            } else if mesh_services {
                tracing::info!(identity = %id, "forwards to mesh services use mutual TLS");
            }
        }
        None if state.mesh.mtls() == MtlsMode::Strict && !state.gateways.is_empty() => {
            tracing::warn!("the mesh is `mtls strict` but meshd run has no --mesh-certs: sidecars will refuse the gateway's plaintext calls");
        }
        None => {}
    }
}
