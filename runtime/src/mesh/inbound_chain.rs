//! A sidecar's inbound chain, the gateway's stages in the mesh's order: identify the caller
//! (from the verified TLS peer, never from a header) → authorise (the shared mesh decision,
//! the one `meshc explain --from` prints) → fault (the mesh's `fault` lines on this pair, drawn
//! with the route faults' seeded code) → act (forward to the local app, with the caller's
//! identity in headers the sidecar alone sets) → record.

use std::borrow::Cow;
use std::time::Instant;

use http::header::{HeaderName, HeaderValue};
use http::StatusCode;
use meshwork_bundle::matcher::normalize_path;
use meshwork_bundle::mesh_policy::DecidedBy;

use crate::admit::{HeaderSink, RequestFacts};
use crate::forward::upgrade::{
    forward_upgrade, start_upgrade, UpgradePolicy, UpgradeSite, UpgradeStart,
};
use crate::forward::{forward, MessageHeaders, RequestBody, TimeBudget};
use crate::metrics::Metrics;
use crate::server::client_request::ClientRequest;
use crate::server::forwarded_headers::host_forwarding;
use crate::server::gateway_response::GatewayResponse;
use crate::server::request_handler::ConnectionContext;
use crate::server::stages::forward::{upstream_request, UpstreamCall};
use crate::state::RuntimeState;
use crate::trace::RequestTrace;

use super::inbound::InboundSide;
use super::mesh_denial::mesh_denial;
use super::mesh_metrics::MeshDirection;
use super::mesh_record::{record, CallLine, CallSides, MeshOutcome};
use super::mesh_state::Caller;

/// The caller's certificate, as Envoy and Istio pass it to the app: `By=<this service's
/// identity>;URI=<the caller's>`. Set only from the verified peer; a client's own is removed.
pub static CLIENT_CERT: HeaderName = HeaderName::from_static("x-forwarded-client-cert");
/// The calling gateway or service by name, for the app (set only from the verified peer).
pub static SOURCE: HeaderName = HeaderName::from_static("x-meshwork-source");
/// Headers in this namespace are the sidecar's to set; a caller's own are removed.
const MESHWORK_PREFIX: &[u8] = b"x-meshwork-";

/// Serves one call to the sidecar's service.
pub async fn serve(
    side: &InboundSide,
    state: &RuntimeState,
    connection: &ConnectionContext,
    request: &ClientRequest,
    body: RequestBody<'_>,
) -> GatewayResponse {
    let shared = &connection.shared;
    let started = shared.access_log.enabled().then(Instant::now);
    // identify
    let caller = state.mesh.caller(connection.peer.as_ref());
    if connection.peer.is_none() {
        shared.metrics.mesh.count_plaintext(&side.service);
    }
    let mut outcome = MeshOutcome {
        trace: RequestTrace::begin(&request.headers, None, shared.exporter.enabled()),
        ..MeshOutcome::default()
    };
    let response = match normalize_path(request.path()) {
        Err(_) => outcome.refuse(StatusCode::BAD_REQUEST, "the request path is malformed"),
        Ok(path) => {
            // authorise
            let facts = RequestFacts::new(
                &request.method,
                &path,
                request.header_view(),
                connection.remote,
            )
            .with_query(request.query())
            .with_host(Some(request.host()));
            let decision = state.mesh.decide(&caller, &side.service, &facts);
            if decision.is_allowed() {
                // fault
                let faults = state.mesh.pair_faults(&caller, &facts);
                outcome.fault = faults.label();
                if let Some(delay) = faults.delay {
                    tokio::time::sleep(delay).await;
                }
                match faults.abort {
                    Some(status) => outcome.refuse(
                        status,
                        "fault injected by the mesh's `fault … abort` rule on this pair",
                    ),
                    None => {
                        // upgrade: refused (cap, body) before anything is forwarded
                        let site = UpgradeSite {
                            proxy: "inbound",
                            route: &side.service,
                        };
                        let policy = UpgradePolicy::default();
                        let (version, headers) = (request.version, &request.headers);
                        let metrics = &shared.metrics.upgrades;
                        match start_upgrade(&policy, metrics, site, version, headers, body.is_end())
                        {
                            UpgradeStart::Refused(status, reason) => {
                                outcome.refuse(status, &reason)
                            }
                            // act
                            upgrade => {
                                let call = (request, &caller, path.as_ref(), body);
                                act(side, state, &shared.metrics, call, upgrade, &mut outcome).await
                            }
                        }
                    }
                }
            } else {
                let rule = match decision.decided_by {
                    DecidedBy::Rule { .. } => Cow::Owned(decision.location().unwrap_or_default()),
                    DecidedBy::Default { .. } => Cow::Borrowed("default"),
                };
                shared.metrics.mesh.count_denial(&side.service, &rule);
                let (response, denied_by) = mesh_denial(&decision, &caller, &side.service);
                outcome.denied_by = Some(denied_by);
                response
            }
        }
    };
    // record
    let sides = CallSides {
        direction: MeshDirection::Inbound,
        source: caller.label(),
        source_id: caller.metric_id,
        source_identity: caller.identity,
        destination: &side.service,
        destination_id: state.mesh.name_id(&side.service),
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

/// Forwards an allowed call to the local app, with the caller's identity in the sidecar's headers
/// (as an upgrade when it opened one).
async fn act(
    side: &InboundSide,
    state: &RuntimeState,
    metrics: &Metrics,
    (request, caller, path, body): (&ClientRequest, &Caller<'_>, &str, RequestBody<'_>),
    upgrade: UpgradeStart,
    outcome: &mut MeshOutcome,
) -> GatewayResponse {
    let headers = app_headers(side, request, caller);
    let target = upstream_target(request, path);
    // Host as the gateway sends it; the caller is named by the sidecar's own headers.
    let mut forwarding = host_forwarding(request, &headers, &side.service);
    if let Some(trace) = &mut outcome.trace {
        forwarding.trace = Some(trace.begin_call(&side.service));
    }
    let call = UpstreamCall {
        method: &request.method,
        target: &target,
        headers: &headers,
        forwarding,
        body,
    };
    let service = state.services.get(&*side.service);
    let app = side
        .app
        .speaking(service.is_some_and(|s| s.speaks_h2), metrics);
    let timeout = service.map_or(app.timeout, |service| service.timeout);
    let budget = TimeBudget {
        per_try: timeout,
        overall: None,
    };
    let request = upstream_request(call);
    let forwarding = match upgrade {
        UpgradeStart::Open(opening) => forward_upgrade(&app, budget, None, request, opening).await,
        _ => forward(&app, budget, None, request).await,
    };
    outcome.forwarded(forwarding)
}

/// The request's headers for the app: whatever the caller sent in the sidecar's namespace
/// (`x-forwarded-client-cert`, `x-meshwork-*`) removed, and the verified caller written in.
fn app_headers(side: &InboundSide, request: &ClientRequest, caller: &Caller<'_>) -> MessageHeaders {
    let mut headers = request.headers.clone();
    let mut claimed: Vec<HeaderName> = Vec::new();
    headers.for_each_line(|name, _, _| {
        let ours = name.len() >= MESHWORK_PREFIX.len()
            && name[..MESHWORK_PREFIX.len()].eq_ignore_ascii_case(MESHWORK_PREFIX);
        if ours {
            if let Ok(name) = HeaderName::from_bytes(name) {
                claimed.push(name);
            }
        }
    });
    for name in &claimed {
        headers.remove_header(name);
    }
    headers.remove_header(&CLIENT_CERT);
    if let Some(identity) = caller.identity {
        let value = format!("By={};URI={identity}", side.identity);
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.set_header(CLIENT_CERT.clone(), value);
        }
    }
    if let Some(name) = caller.name.and_then(|n| HeaderValue::from_str(n).ok()) {
        headers.set_header(SOURCE.clone(), name);
    }
    headers
}

/// The target the app gets: the client's, or the normalized path (the path the mesh judged is
/// the path forwarded) with the query.
fn upstream_target<'a>(request: &'a ClientRequest, path: &str) -> Cow<'a, str> {
    if path == request.path() {
        return Cow::Borrowed(request.target.as_str());
    }
    Cow::Owned(match request.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::http1::request_encoder::{encode_head, BodyFraming};

    /// The head the app gets for `request`, as the inbound side writes it.
    fn head_for_app(request: http::Request<()>) -> String {
        let (parts, ()) = request.into_parts();
        let request = ClientRequest::from_parts(parts);
        let forwarding = host_forwarding(&request, &request.headers, "riker");
        let mut out = Vec::new();
        let target = request.target.as_str();
        encode_head(
            &request.method,
            target,
            &request.headers,
            BodyFraming::Empty,
            &forwarding,
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_app_always_gets_a_host_and_never_the_gateways_forwarding_headers() {
        // HTTP/1.1 with its Host: as it came.
        let with_host = http::Request::get("/logs")
            .header("host", "riker")
            .body(())
            .unwrap();
        assert_eq!(
            head_for_app(with_host),
            "GET /logs HTTP/1.1\r\nhost: riker\r\n\r\n"
        );
        // HTTP/2: the authority becomes Host.
        let h2 = http::Request::get("http://riker.mesh:9101/logs")
            .body(())
            .unwrap();
        assert_eq!(
            head_for_app(h2),
            "GET /logs HTTP/1.1\r\nhost: riker.mesh:9101\r\n\r\n"
        );
        // A Host beside the :authority: the authority, the host the mesh judged, alone.
        let both = http::Request::get("http://riker/logs")
            .header("host", "data")
            .body(())
            .unwrap();
        assert_eq!(
            head_for_app(both),
            "GET /logs HTTP/1.1\r\nhost: riker\r\n\r\n"
        );
        // HTTP/1.0 that named no host: the service.
        let bare = http::Request::get("/logs")
            .version(http::Version::HTTP_10)
            .body(())
            .unwrap();
        assert_eq!(
            head_for_app(bare),
            "GET /logs HTTP/1.1\r\nhost: riker\r\n\r\n"
        );
    }
}
