//! Where a request enters the request path, whichever protocol brought it (HTTP/1 from
//! [`crate::server::http1`], HTTP/2 from hyper): the state is loaded once, the listener's chain
//! of stages serves the request (a gateway's [`super::gateway_chain`], a sidecar's
//! [`crate::mesh::inbound_chain`] or [`crate::mesh::outbound_chain`]), and its record stage
//! counts and logs it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::access_log::AccessLog;
use crate::forward::RequestBody;
use crate::mesh::identity::SpiffeId;
use crate::mesh::{inbound_chain, outbound_chain};
use crate::metrics::Metrics;
use crate::reload::StateCell;
use crate::trace::{RequestTrace, SpanExporter};

use super::client_request::ClientRequest;
use super::error_response::json_error;
use super::forwarded_headers::ClientFacts;
use super::gateway_chain;
use super::gateway_response::GatewayResponse;
use super::listener_role::ListenerRole;
use super::stages::outcome::Outcome;
use super::stages::record::{record, LogLine};

/// What every connection of the process shares.
#[derive(Debug)]
pub struct Shared {
    /// The state being served.
    pub state: Arc<StateCell>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The access log.
    pub access_log: Arc<AccessLog>,
    /// Where the spans of sampled traces go (disabled without `--otlp-endpoint`).
    pub exporter: SpanExporter,
}

/// One client connection.
#[derive(Debug)]
pub struct ConnectionContext {
    /// Process-wide state.
    pub shared: Arc<Shared>,
    /// What its listener serves.
    pub role: ListenerRole,
    /// The client's address.
    pub remote: SocketAddr,
    /// The client facts written into `X-Forwarded-*`.
    pub client: ClientFacts,
    /// The caller's verified SPIFFE ID (a sidecar's inbound mTLS connection), never a header's.
    pub peer: Option<SpiffeId>,
    /// The longest the client may take nothing of a response (HTTP/1.1; HTTP/2 streams are
    /// bounded by their listener's executor, [`super::http2_send_timeout`]).
    pub send_timeout: Duration,
}

/// Serves one request: the response (its body may still be streaming from the upstream), with
/// the request counted and logged.
pub async fn handle(
    connection: &ConnectionContext,
    request: &ClientRequest,
    body: RequestBody<'_>,
) -> GatewayResponse {
    let shared = &connection.shared;
    let Some(state) = shared.state.load() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no bundle is loaded yet",
            None,
        )
        .into();
    };
    let gateway = match &connection.role {
        ListenerRole::Gateway { gateway, .. } => *gateway,
        ListenerRole::MeshInbound(side) => {
            return inbound_chain::serve(side, &state, connection, request, body).await
        }
        ListenerRole::MeshOutbound(side) => {
            return outbound_chain::serve(side, &state, connection, request, body).await
        }
        // Its connections are piped, never read as HTTP (`serve_connection`).
        ListenerRole::MeshTcpOutbound(_) => {
            return json_error(StatusCode::BAD_REQUEST, "a tcp listener", None).into()
        }
    };
    let Some(gateway) = state.gateways.get(gateway) else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this listener's gateway is gone",
            None,
        )
        .into();
    };
    let started = shared.access_log.enabled().then(Instant::now);
    let mut outcome = Outcome::default();
    if let Some(tracing) = &gateway.tracing {
        outcome.trace = RequestTrace::begin(
            &request.headers,
            Some(tracing.sample_percent),
            shared.exporter.enabled(),
        );
    }
    let response = gateway_chain::serve(gateway, connection, request, body, &mut outcome).await;
    let line = LogLine {
        method: request.method.as_str(),
        path: request.path(),
        status: response.status.as_u16(),
        started,
    };
    record(shared, gateway, &line, &outcome);
    response
}

/// The answer to a request head refused before it could be served (malformed, oversized,
/// ambiguous framing), counted and logged like any other request without a route.
pub fn refuse_head(
    connection: &ConnectionContext,
    status: StatusCode,
    reason: &str,
) -> GatewayResponse {
    let shared = &connection.shared;
    let gateway = match &connection.role {
        ListenerRole::Gateway { gateway, .. } => *gateway,
        ListenerRole::MeshInbound(side) => return side.refuse_head(connection, status, reason),
        ListenerRole::MeshOutbound(side) => return side.refuse_head(connection, status, reason),
        ListenerRole::MeshTcpOutbound(_) => return json_error(status, reason, None).into(),
    };
    if let Some(state) = shared.state.load() {
        if let Some(gateway) = state.gateways.get(gateway) {
            let outcome = Outcome {
                error: Some(reason.to_string()),
                ..Outcome::default()
            };
            let line = LogLine {
                method: "",
                path: "",
                status: status.as_u16(),
                started: shared.access_log.enabled().then(Instant::now),
            };
            record(shared, gateway, &line, &outcome);
        }
    }
    json_error(status, reason, None).into()
}
