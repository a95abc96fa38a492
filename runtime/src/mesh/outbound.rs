//! A sidecar's outbound side: a loopback listener for the local app. The app calls
//! `http://riker/…` through it (`Host` names the service, [`super::service_host`]); the sidecar balances over the
//! service's endpoints (the other sidecars' inbound listeners), retries, times out and ejects as
//! the service says, with mutual TLS that presents this workload's certificate and accepts only
//! the destination's identity. What happens to each request is [`super::outbound_chain`].

use std::sync::Arc;
use std::time::Instant;

use http::StatusCode;

use crate::server::error_response::json_error;
use crate::server::gateway_response::GatewayResponse;
use crate::server::request_handler::ConnectionContext;

use super::mesh_metrics::MeshDirection;
use super::mesh_record::{record, CallLine, CallSides, MeshOutcome};
use super::mesh_state::UNKNOWN;
use super::service_host::ServiceHosts;

/// Everything the outbound listener's connections share.
#[derive(Debug)]
pub struct OutboundSide {
    /// The service this sidecar stands beside: the caller of every outbound call.
    pub service: Arc<str>,
    /// Its identity (`source.identity` in a balance hash).
    pub identity: Arc<str>,
    /// Which `Host` names which service.
    pub hosts: ServiceHosts,
}

impl OutboundSide {
    /// The outbound side of `service`'s sidecar, which presents `identity` and reads `Host`
    /// with `hosts`.
    pub fn new(service: &str, identity: &str, hosts: ServiceHosts) -> OutboundSide {
        OutboundSide {
            service: service.into(),
            identity: identity.into(),
            hosts,
        }
    }

    /// The answer to a request head refused before it could be served (malformed, oversized).
    pub fn refuse_head(
        &self,
        connection: &ConnectionContext,
        status: StatusCode,
        reason: &str,
    ) -> GatewayResponse {
        let shared = &connection.shared;
        if let Some(state) = shared.state.load() {
            let sides = CallSides {
                direction: MeshDirection::Outbound,
                source: &self.service,
                source_id: state.mesh.name_id(&self.service),
                source_identity: Some(&self.identity),
                destination: UNKNOWN,
                destination_id: state.mesh.name_id(UNKNOWN),
            };
            let line = CallLine {
                method: "",
                path: "",
                status: status.as_u16(),
                started: shared.access_log.enabled().then(Instant::now),
            };
            let outcome = MeshOutcome {
                error: Some(reason.to_string()),
                ..MeshOutcome::default()
            };
            record(shared, &sides, &line, &outcome);
        }
        json_error(status, reason, None).into()
    }
}
