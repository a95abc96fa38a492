//! Active health checks: every endpoint of a service that declares `health_check` is probed on
//! its own schedule with a fresh connection (for `health_check grpc`, by the gRPC health checking
//! protocol); `unhealthy_threshold` failures in a row take it out
//! of balancing and `healthy_threshold` successes bring it back. Endpoints start healthy, so a
//! newly loaded bundle serves at once; the first probe runs immediately.
//!
//! A probe task holds only a weak reference to its endpoint and stops when the bundle that owns
//! the endpoint is replaced and its last request finished.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use http::Method;
use meshwork_bundle::HealthCheck;

use super::endpoint::Endpoint;
use super::h2::grpc_health::probe_grpc;
use super::h2::health_probe::{probe_h2, H2ProbeTarget};
use super::h2::H2Transport;
use super::http1::request_encoder::{encode_head, BodyFraming, ForwardedHeaders};
use super::http1::{exchange, ExchangeRequest, UpstreamConn};
use super::message_headers::MessageHeaders;
use super::service_state::ServiceState;
use super::upstream_tls::UpstreamTls;

/// Starts the probes of every endpoint of `service` on `runtime` (no-op without a health check).
pub fn spawn_health_checks(service: &ServiceState, runtime: &tokio::runtime::Handle) {
    let Some(check) = &service.health_check else {
        return;
    };
    for endpoint in &service.endpoints {
        let weak = Arc::downgrade(endpoint);
        let check = check.clone();
        let name = service.name.clone();
        let tls = service.tls.clone();
        let h2 = service.h2.as_ref().map(|c| c.transport().clone());
        runtime.spawn(async move { probe_forever(weak, check, name, tls, h2).await });
    }
}

async fn probe_forever(
    endpoint: Weak<Endpoint>,
    check: HealthCheck,
    service: Arc<str>,
    tls: Option<UpstreamTls>,
    h2: Option<H2Transport>,
) {
    let interval = Duration::from_millis(check.interval_ms.max(1));
    let timeout = Duration::from_millis(check.timeout_ms.max(1));
    let method = Method::from_bytes(check.method.as_bytes()).unwrap_or(Method::GET);
    let (mut successes, mut failures) = (0u64, 0u64);
    loop {
        let Some((address, host)) = endpoint
            .upgrade()
            .map(|e| (e.socket_addr, e.address.clone()))
        else {
            return;
        };
        let target = ProbeTarget {
            address,
            host: &host,
            tls: tls.as_ref(),
        };
        let healthy = match (&h2, &check.grpc_service) {
            (Some(transport), grpc) => {
                let target = H2ProbeTarget {
                    transport,
                    address,
                    host: &host,
                };
                match grpc {
                    Some(service) => probe_grpc(&target, service, timeout).await,
                    None => probe_h2(&target, &method, &check.path, timeout).await,
                }
            }
            // meshc refuses `grpc` on a service without HTTP/2; a bundle that has it anyway
            // gets the plain probe of the path it names.
            (None, _) => probe(&target, &method, &check.path, timeout).await,
        };
        let Some(endpoint) = endpoint.upgrade() else {
            return;
        };
        if healthy {
            successes += 1;
            failures = 0;
        } else {
            failures += 1;
            successes = 0;
        }
        if endpoint.is_healthy() && failures >= check.unhealthy_threshold.max(1) {
            endpoint.set_healthy(false);
            tracing::warn!(service = %service, endpoint = %endpoint.address, "endpoint failed its health check");
        } else if !endpoint.is_healthy() && successes >= check.healthy_threshold.max(1) {
            endpoint.set_healthy(true);
            tracing::info!(service = %service, endpoint = %endpoint.address, "endpoint passed its health check");
        }
        drop(endpoint);
        tokio::time::sleep(interval).await;
    }
}

/// Where a probe goes: the endpoint, its `Host`, and mutual TLS when the service is a mesh
/// workload (the probe then passes the mesh's rules like any call from this process).
struct ProbeTarget<'a> {
    address: SocketAddr,
    host: &'a str,
    tls: Option<&'a UpstreamTls>,
}

/// One probe: a 2xx answer within the timeout is healthy.
async fn probe(target: &ProbeTarget<'_>, method: &Method, path: &str, timeout: Duration) -> bool {
    let attempt = async {
        let mut conn = UpstreamConn::connect(target.address, timeout, target.tls)
            .await
            .ok()?;
        let mut headers = http::HeaderMap::with_capacity(3);
        headers.insert(
            http::header::HOST,
            http::HeaderValue::from_str(target.host).ok()?,
        );
        headers.insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_static("meshd-health-check"),
        );
        headers.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        let mut head = Vec::new();
        encode_head(
            method,
            path,
            &MessageHeaders::from_map(headers),
            BodyFraming::Empty,
            &ForwardedHeaders::none(),
            &mut head,
        );
        let request = ExchangeRequest {
            head: &head,
            body: None,
            chunked: false,
            head_request: *method == Method::HEAD,
        };
        let response = exchange(&mut conn, request).await.ok()?;
        Some(response.status.is_success())
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Some(true)))
}
