//! Mutual TLS to an upstream that is a mesh workload: the connection presents this process's
//! workload certificate (a sidecar's, or the gateway's) and accepts the server only if its chain
//! verifies against the trust bundle and its SPIFFE ID is the service's identity. A server with
//! another identity is an impostor: the handshake fails, the request gets 502, and the failure is
//! counted by reason (`meshd_tls_handshake_failures_total{direction="outbound"}`).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;

use crate::mesh::identity::{
    endpoint_server_name, explain_handshake_error, Direction, HandshakeFailure, IdentityMetrics,
    SpiffeId,
};

/// How connections to one service are secured: the client config that expects its identity.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    config: Arc<ClientConfig>,
    /// The identity every endpoint of the service must present.
    pub expected: SpiffeId,
    metrics: IdentityMetrics,
}

/// A failed mesh handshake, as the forward path reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mutual TLS failed ({}): {detail}", reason.as_str())]
pub struct HandshakeError {
    /// Why, as the metric's label says it.
    pub reason: HandshakeFailure,
    /// What happened (for an impostor: the identity it presented instead).
    pub detail: String,
}

impl UpstreamTls {
    /// Connections expecting `expected`, with `config` (from the process's outbound TLS, which
    /// builds one per identity); failures are counted in `metrics`.
    pub fn new(config: Arc<ClientConfig>, expected: SpiffeId, metrics: IdentityMetrics) -> Self {
        UpstreamTls {
            config,
            expected,
            metrics,
        }
    }

    /// The mutual TLS handshake on an open TCP connection to `endpoint`.
    pub async fn handshake(
        &self,
        endpoint: SocketAddr,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, HandshakeError> {
        TlsConnector::from(Arc::clone(&self.config))
            .connect(endpoint_server_name(endpoint), tcp)
            .await
            .map_err(|error| {
                let reason = HandshakeFailure::of_io(&error);
                self.metrics
                    .count_handshake_failure(Direction::Outbound, reason);
                HandshakeError {
                    reason,
                    detail: explain_handshake_error(&error),
                }
            })
    }
}
