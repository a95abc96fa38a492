//! A sidecar's inbound side when its service speaks plain TCP (`protocol tcp`): the connection
//! arrived over mutual TLS (or in plaintext under `mtls permissive`, as an unauthenticated
//! caller), the mesh decides on the caller's verified identity alone (a rule's `when` fails
//! closed: there is no request to read), and an allowed connection is piped to the app. A refused
//! one is closed before a byte reaches the app, counted in `meshd_mesh_denials_total` and
//! `meshd_mesh_tcp_connections_total{outcome="denied"}`.

use std::time::{Duration, Instant};

use meshwork_bundle::mesh_policy::{denied_by, DecidedBy};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::drain::RequestCounter;
use crate::server::request_handler::Shared;

use super::identity::SpiffeId;
use super::inbound::InboundSide;
use super::mesh_metrics::MeshDirection;
use super::tcp_pipe::{pipe, record_tcp, TcpOutcome, TcpRecord};

/// How long connecting to the app may take.
const APP_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the bundle in force says the sidecar's service speaks TCP.
pub fn serves_tcp(side: &InboundSide, shared: &Shared) -> bool {
    shared
        .state
        .load()
        .and_then(|state| state.services.get(&*side.service).map(|s| s.tcp))
        .unwrap_or(false)
}

/// Serves one connection to the tcp service: decide, then pipe it to the app until either end
/// closes. `requests` counts it in flight, so a drain waits for it (up to the drain timeout).
pub async fn serve_tcp_inbound<S>(
    side: &InboundSide,
    shared: &Shared,
    mut stream: S,
    peer: Option<&SpiffeId>,
    requests: &RequestCounter,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(state) = shared.state.load() else {
        return;
    };
    let _in_flight = requests.start();
    let started = shared.access_log.enabled().then(Instant::now);
    let service = &*side.service;
    let caller = state.mesh.caller(peer);
    if peer.is_none() {
        shared.metrics.mesh.count_plaintext(service);
    }
    let mut record = TcpRecord {
        direction: MeshDirection::Inbound,
        source: caller.label(),
        source_identity: caller.identity,
        destination: service,
        outcome: TcpOutcome::Closed,
        upstream: None,
        bytes: (0, 0),
        denied_by: None,
        error: None,
        started,
    };
    let decision = state.mesh.decide_connection(&caller, service);
    if !decision.is_allowed() {
        let rule = match decision.decided_by {
            DecidedBy::Rule { .. } => decision.location().unwrap_or_default(),
            DecidedBy::Default { .. } => "default".to_string(),
        };
        shared.metrics.mesh.count_denial(service, &rule);
        let text = denied_by(&decision, service);
        tracing::debug!(service, caller = caller.label(), denied_by = %text, "tcp connection refused by the mesh");
        record.outcome = TcpOutcome::Denied;
        record.denied_by = Some(&text);
        record_tcp(shared, &record);
        // A TLS caller sees close_notify, then the end of the connection: nothing was sent on.
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
        return;
    }
    let app = side.app.current();
    let Some(address) = app.endpoints.first().map(|e| e.socket_addr) else {
        return;
    };
    let connected = tokio::time::timeout(APP_CONNECT_TIMEOUT, TcpStream::connect(address)).await;
    let app_address = address.to_string();
    record.upstream = Some(&app_address);
    match connected {
        Ok(Ok(tcp)) => {
            let _ = tcp.set_nodelay(true);
            let piped = pipe(stream, tcp, side.tcp_idle_timeout).await;
            record.bytes = piped.bytes;
            record.outcome = piped.outcome();
            record_tcp(shared, &record);
        }
        failed => {
            let error = match failed {
                Ok(Err(error)) => format!("cannot connect to the app: {error}"),
                _ => format!("the app did not accept within {APP_CONNECT_TIMEOUT:?}"),
            };
            tracing::warn!(service, app = %address, %error, "tcp connection to the app failed");
            record.outcome = TcpOutcome::Failed;
            record.error = Some(&error);
            record_tcp(shared, &record);
        }
    }
}
