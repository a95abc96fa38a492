//! A sidecar's inbound side: the listener at the address the service's `endpoints` name. A call
//! arrives over mutual TLS (the caller's certificate verified against the trust bundle, its
//! SPIFFE ID read from the verified peer) or, under `mtls permissive` only, in plaintext as an
//! unauthenticated caller; under `mtls strict` a plaintext connection is refused at the handshake.
//! The mode is read from the bundle in force for every connection, so a reload that switches
//! `permissive` to `strict` applies to the next connection. What happens to each request is the
//! inbound chain ([`super::inbound_chain`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use meshwork_bundle::MtlsMode;
use tokio::net::TcpStream;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::reload::StateCell;
use crate::server::connection::TLS_HANDSHAKE_TIMEOUT;
use crate::server::error_response::json_error;
use crate::server::gateway_response::GatewayResponse;
use crate::server::request_handler::ConnectionContext;

use super::app_service::AppService;
use super::identity::{
    inbound_server_config, peer_identity, Direction, HandshakeFailure, IdentityMetrics,
    IdentityStore, PeerAuthentication, SpiffeId,
};
use super::mesh_metrics::MeshDirection;
use super::mesh_record::{record, CallLine, CallSides, MeshOutcome};

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A connection accepted by the inbound listener.
#[derive(Debug)]
pub enum Accepted {
    /// Plaintext, admitted by `mtls permissive`: an unauthenticated caller.
    Plain(TcpStream),
    /// Mutual TLS, with the caller's verified identity (`None`: permissive, no certificate).
    Tls {
        /// The stream (boxed: the TLS state is large).
        stream: Box<TlsStream<TcpStream>>,
        /// The verified SPIFFE ID.
        peer: Option<SpiffeId>,
    },
}

/// Everything the inbound listener's connections share.
#[derive(Debug)]
pub struct InboundSide {
    /// The service this sidecar stands beside.
    pub service: Arc<str>,
    /// Its identity, from the workload certificate (`By=` of `x-forwarded-client-cert`).
    pub identity: SpiffeId,
    /// The local app: one endpoint, reached with `forward/` like any upstream.
    pub app: Arc<AppService>,
    /// A tcp service's connection on which neither end sends anything for this long is closed.
    pub tcp_idle_timeout: Duration,
    cell: Arc<StateCell>,
    strict: Arc<ServerConfig>,
    permissive: Arc<ServerConfig>,
    identity_metrics: IdentityMetrics,
}

impl InboundSide {
    /// The inbound side of `service`'s sidecar, presenting `store`'s certificate and forwarding
    /// to `app`; the mTLS mode is read from `cell`'s bundle per connection.
    pub fn new(
        service: &str,
        store: &IdentityStore,
        app: Arc<AppService>,
        cell: Arc<StateCell>,
        identity_metrics: IdentityMetrics,
        tcp_idle_timeout: Duration,
    ) -> Result<InboundSide, tokio_rustls::rustls::Error> {
        let alpn: &[&[u8]] = &[b"h2", b"http/1.1"];
        Ok(InboundSide {
            service: service.into(),
            identity: store.current().identity.clone(),
            app,
            strict: inbound_server_config(store, PeerAuthentication::Strict, alpn)?,
            permissive: inbound_server_config(store, PeerAuthentication::Permissive, alpn)?,
            cell,
            identity_metrics,
            tcp_idle_timeout,
        })
    }

    /// Accepts a connection as the bundle's mTLS mode says; `None` when it is refused (a failed
    /// handshake, counted by reason, or a client that sent nothing in time).
    pub async fn accept(&self, stream: TcpStream) -> Option<Accepted> {
        let (mode, tcp) = self.cell.load().map_or((MtlsMode::Strict, false), |state| {
            let tcp = state.services.get(&*self.service).is_some_and(|s| s.tcp);
            (state.mesh.mtls(), tcp)
        });
        let config = match mode {
            MtlsMode::Strict => &self.strict,
            MtlsMode::Permissive => {
                if !starts_with_tls(&stream, tcp).await? {
                    return Some(Accepted::Plain(stream));
                }
                &self.permissive
            }
        };
        let handshake = TlsAcceptor::from(Arc::clone(config)).accept(stream);
        let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                let reason = HandshakeFailure::of_io(&error);
                self.identity_metrics
                    .count_handshake_failure(Direction::Inbound, reason);
                tracing::debug!(service = %self.service, reason = reason.as_str(), %error, "inbound handshake refused");
                return None;
            }
            Err(_) => {
                self.identity_metrics
                    .count_handshake_failure(Direction::Inbound, HandshakeFailure::Io);
                return None;
            }
        };
        match peer_identity(tls.get_ref().1) {
            Ok(peer) => Some(Accepted::Tls {
                stream: Box::new(tls),
                peer,
            }),
            Err(error) => {
                self.identity_metrics
                    .count_handshake_failure(Direction::Inbound, HandshakeFailure::BadIdentity);
                tracing::debug!(service = %self.service, %error, "inbound peer refused");
                None
            }
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
            let caller = state.mesh.caller(connection.peer.as_ref());
            let sides = CallSides {
                direction: MeshDirection::Inbound,
                source: caller.label(),
                source_id: caller.metric_id,
                source_identity: caller.identity,
                destination: &self.service,
                destination_id: state.mesh.name_id(&self.service),
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

/// Under `mtls permissive`, how long a tcp service's caller may send nothing before it is taken
/// for a plaintext caller of a protocol whose server speaks first. A sidecar's ClientHello
/// follows its connect at once; Linkerd and Istio, which cannot tell, wait 10 s and 5 s for
/// every such connection.
pub const SERVER_FIRST_WAIT: Duration = Duration::from_secs(1);

/// Whether the client's first byte opens a TLS handshake. A tcp service's protocol may be one
/// whose server speaks first (MySQL's greeting, SMTP), whose plaintext caller sends nothing
/// until answered: silence for [`SERVER_FIRST_WAIT`] is plaintext. `None`: the client closed, or
/// (an HTTP service's) sent nothing within the handshake timeout.
async fn starts_with_tls(stream: &TcpStream, tcp: bool) -> Option<bool> {
    let wait = if tcp {
        SERVER_FIRST_WAIT
    } else {
        TLS_HANDSHAKE_TIMEOUT
    };
    let mut first = [0u8; 1];
    match tokio::time::timeout(wait, stream.peek(&mut first)).await {
        Ok(Ok(1)) => Some(first[0] == TLS_HANDSHAKE_RECORD),
        Err(_) if tcp => Some(false),
        _ => None,
    }
}
