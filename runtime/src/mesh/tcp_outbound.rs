//! A sidecar's listener for one `protocol tcp` service (`meshd sidecar --tcp db=127.0.0.1:15432`):
//! the app connects to it as it would to the database, and the sidecar connects to one of the
//! service's endpoints, picked with its `balance`, with mutual TLS (its own certificate
//! presented, the service's identity pinned), then pipes the bytes both ways. A TCP stream names
//! no host, so each tcp service the app calls has a listener of its own, as Consul Connect's
//! upstreams do. The called sidecar is the authority on the mesh's rules: a connection it
//! refuses ends at once, with nothing carried.
//!
//! An endpoint that cannot be reached (refused, no answer within the connect timeout, or an
//! impostor presenting another identity) is given up for another picked the same way, avoiding the
//! one just tried (as a retry of an HTTP call does), in at most as many tries as the service has
//! endpoints; a connection none of them takes is closed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::forward::http1::UpstreamConn;
use crate::server::drain::RequestCounter;
use crate::server::request_handler::Shared;

use super::mesh_metrics::MeshDirection;
use super::tcp_pipe::{pipe, record_tcp, TcpOutcome, TcpRecord};

/// How long connecting to an endpoint (TCP and the TLS handshake) may take: Envoy's default.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One `--tcp SERVICE=ADDRESS` listener.
#[derive(Debug)]
pub struct TcpOutboundSide {
    /// The sidecar's own service: the caller.
    pub service: Arc<str>,
    /// Its identity.
    pub identity: String,
    /// The tcp service this listener reaches.
    pub destination: Arc<str>,
    /// A connection on which neither end sends anything for this long is closed.
    pub idle_timeout: Duration,
}

impl TcpOutboundSide {
    /// Carries one connection of the app to the destination. `requests` counts it in flight, so
    /// a drain waits for it (up to the drain timeout).
    pub async fn serve(&self, shared: &Shared, app: TcpStream, requests: &RequestCounter) {
        let Some(state) = shared.state.load() else {
            return;
        };
        let _in_flight = requests.start();
        let _ = app.set_nodelay(true);
        let mut record = TcpRecord {
            direction: MeshDirection::Outbound,
            source: &self.service,
            source_identity: Some(&self.identity),
            destination: &self.destination,
            outcome: TcpOutcome::Failed,
            upstream: None,
            bytes: (0, 0),
            denied_by: None,
            error: None,
            started: shared.access_log.enabled().then(Instant::now),
        };
        let service = match state.services.get(&*self.destination) {
            Some(service) if service.tcp && service.tls.is_some() => service,
            found => {
                let error = match found {
                    None => "the bundle in force has no such service",
                    Some(service) if !service.tcp => {
                        "the service does not speak tcp (protocol tcp)"
                    }
                    Some(_) => "the service has no mesh identity to connect with",
                };
                tracing::warn!(destination = %self.destination, error, "tcp connection not carried");
                record.error = Some(error);
                record_tcp(shared, &record);
                return;
            }
        };
        let mut avoid = None;
        let mut last_error = String::from("no endpoint is available");
        for _ in 0..service.endpoints.len() {
            let Ok(index) = service.pick(None, avoid) else {
                break;
            };
            let endpoint = &service.endpoints[index];
            let lease = endpoint.lease();
            match UpstreamConn::connect(endpoint.socket_addr, CONNECT_TIMEOUT, service.tls.as_ref())
                .await
            {
                Ok(conn) => {
                    record.upstream = Some(&endpoint.address);
                    let piped = pipe(app, conn.stream, self.idle_timeout).await;
                    record.outcome = piped.outcome();
                    record.bytes = piped.bytes;
                    drop(lease);
                    record_tcp(shared, &record);
                    return;
                }
                Err(error) => {
                    tracing::debug!(destination = %self.destination, endpoint = %endpoint.address, %error, "tcp endpoint unreachable");
                    last_error = format!("{}: {error}", endpoint.address);
                    avoid = Some(index);
                }
            }
        }
        tracing::warn!(destination = %self.destination, error = %last_error, "tcp connection not carried");
        record.error = Some(&last_error);
        record_tcp(shared, &record);
    }
}
