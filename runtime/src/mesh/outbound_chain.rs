//! A sidecar's outbound chain: match (`Host` names the service) → act (copy the call to the
//! pair's mirrors, fire and forget; forward to one of its endpoints with the service's
//! balancing, timeout, retries and breaker, over mutual TLS that accepts only the service's
//! identity) → record. The mesh's rules are the called side's to
//! apply: its sidecar is the authority, and its 403 comes back to the app as it is.

use std::time::Instant;

use http::StatusCode;

use crate::admit::cel::{CelInput, MeshCaller};
use crate::admit::RequestFacts;
use crate::forward::upgrade::{
    forward_upgrade, start_upgrade, UpgradePolicy, UpgradeSite, UpgradeStart,
};
use crate::forward::{forward, RequestBody, TimeBudget};
use crate::server::client_request::ClientRequest;
use crate::server::forwarded_headers::host_forwarding;
use crate::server::gateway_response::GatewayResponse;
use crate::server::request_handler::ConnectionContext;
use crate::server::stages::forward::{upstream_request, UpstreamCall};
use crate::server::stages::mirror::mirror_body;
use crate::state::RuntimeState;
use crate::trace::RequestTrace;

use super::mesh_metrics::MeshDirection;
use super::mesh_record::{record, CallLine, CallSides, MeshOutcome};
use super::mesh_state::UNKNOWN;
use super::outbound::OutboundSide;
use super::pair_mirrors::send_pair_copy;

/// Serves one call of the local app.
pub async fn serve(
    side: &OutboundSide,
    state: &RuntimeState,
    connection: &ConnectionContext,
    request: &ClientRequest,
    mut body: RequestBody<'_>,
) -> GatewayResponse {
    let shared = &connection.shared;
    let started = shared.access_log.enabled().then(Instant::now);
    let mut outcome = MeshOutcome {
        trace: RequestTrace::begin(&request.headers, None, shared.exporter.enabled()),
        ..MeshOutcome::default()
    };
    // match (by the service's name from here on, whichever form of it the app sent)
    let host = request.host();
    let found = side.hosts.find(host, &state.services);
    let destination = found.map_or(UNKNOWN, |(name, _)| name);
    let response = match found {
        None if host.is_empty() => outcome.refuse(
            StatusCode::BAD_REQUEST,
            "name the service to call in the Host header: http://SERVICE/…",
        ),
        None => outcome.refuse(StatusCode::NOT_FOUND, &side.hosts.no_service(host)),
        Some((host, service)) if service.tcp => outcome.refuse(
            StatusCode::BAD_GATEWAY,
            &format!(
                "`{host}` speaks tcp, not HTTP: the app connects to it through the sidecar's \
                 listener for it (meshd sidecar --tcp {host}=ADDRESS)"
            ),
        ),
        Some((host, service)) => 'act: {
            let site = UpgradeSite {
                proxy: "outbound",
                route: host,
            };
            let metrics = &shared.metrics.upgrades;
            let policy = UpgradePolicy::default();
            let (version, headers) = (request.version, &request.headers);
            let opening =
                match start_upgrade(&policy, metrics, site, version, headers, body.is_end()) {
                    UpgradeStart::NotAsked => None,
                    UpgradeStart::Open(opening) => Some(opening),
                    UpgradeStart::Refused(status, reason) => {
                        break 'act outcome.refuse(status, &reason)
                    }
                };
            // act: copies first (their bodies are read before the primary streams it)
            if opening.is_none() {
                for mirror in state.mesh.pair_mirrors().to(host) {
                    match mirror_body(mirror, &mut body).await {
                        Ok(Some(copy)) => {
                            let target = request.target.as_str();
                            let (method, headers) = (&request.method, &request.headers);
                            send_pair_copy(mirror, method, target, headers, host, copy);
                        }
                        Ok(None) => {}
                        Err(error) => {
                            break 'act outcome.refuse(error.status(), &error.to_string())
                        }
                    }
                }
            }
            let key = service.balancer.hash_key().and_then(|hash| {
                let facts = RequestFacts::new(
                    &request.method,
                    request.path(),
                    request.header_view(),
                    connection.remote,
                )
                .with_query(request.query())
                .with_host(Some(host));
                let caller = MeshCaller {
                    service: &side.service,
                    identity: &side.identity,
                };
                hash.hash(CelInput::mesh_call(&facts, caller))
            });
            // The host the app sent goes on as it was (any of the service's names, as Envoy
            // and Linkerd keep it), over HTTP/1.1 or as the :authority of HTTP/2.
            let mut forwarding = host_forwarding(request, &request.headers, &service.name);
            if let Some(trace) = &mut outcome.trace {
                forwarding.trace = Some(trace.begin_call(&service.name));
            }
            let call = UpstreamCall {
                method: &request.method,
                target: request.target.as_str(),
                headers: &request.headers,
                forwarding,
                body,
            };
            let budget = TimeBudget {
                per_try: service.timeout,
                overall: None,
            };
            let request = upstream_request(call);
            let forwarding = match opening {
                None => forward(service, budget, key, request).await,
                Some(opening) => forward_upgrade(service, budget, key, request, opening).await,
            };
            outcome.forwarded(forwarding)
        }
    };
    // record
    let sides = CallSides {
        direction: MeshDirection::Outbound,
        source: &side.service,
        source_id: state.mesh.name_id(&side.service),
        source_identity: Some(&side.identity),
        destination,
        destination_id: state.mesh.name_id(destination),
    };
    let line = CallLine {
        method: request.method.as_str(),
        path: request.path(),
        status: response.status.as_u16(),
        started,
    };
    record(shared, &sides, &line, &outcome);
    response
}
