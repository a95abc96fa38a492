//! An active health check of an HTTP/2 endpoint: the probe's request on a fresh HTTP/2
//! connection (h2c, TLS or the mesh's mutual TLS, as the service's requests go), since an
//! HTTP/2-only server would refuse an HTTP/1.1 probe and be taken out of balancing for it.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method};
use hyper::body::Incoming;

use super::connection::{H2Connections, H2Transport};
use super::request_body::H2RequestBody;

/// Where a probe goes and how: the endpoint at `address` (named `host`), over `transport`.
pub struct H2ProbeTarget<'a> {
    pub transport: &'a H2Transport,
    pub address: SocketAddr,
    pub host: &'a str,
}

/// One probe: `method path` to the target, healthy on a 2xx answer head within `timeout`.
pub async fn probe_h2(
    target: &H2ProbeTarget<'_>,
    method: &Method,
    path: &str,
    timeout: Duration,
) -> bool {
    let attempt = async {
        let response = send_probe(
            target,
            method.clone(),
            path,
            HeaderMap::new(),
            H2RequestBody::Empty,
            timeout,
        )
        .await?;
        Some(response.status().is_success())
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Some(true)))
}

/// Sends one probe request on a fresh connection to the target (opened within `timeout`), with
/// meshd's `User-Agent` beside `headers`; `None` when it cannot be sent or is not answered.
pub(super) async fn send_probe(
    target: &H2ProbeTarget<'_>,
    method: Method,
    path: &str,
    mut headers: HeaderMap,
    body: H2RequestBody,
    timeout: Duration,
) -> Option<http::Response<Incoming>> {
    let connections = H2Connections::new(target.transport.clone(), 1);
    let (mut sender, _stream) = connections
        .sender(0, target.address, target.host, timeout)
        .await
        .ok()?;
    let uri = http::Uri::builder()
        .scheme(connections.scheme())
        .authority(target.host)
        .path_and_query(path)
        .build()
        .ok()?;
    headers.insert(
        http::header::USER_AGENT,
        HeaderValue::from_static("meshd-health-check"),
    );
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    sender.send_request(request).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::server::conn::http2;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    /// An HTTP/2-only (h2c) server answering `/healthz` 200 and anything else 503.
    async fn h2c_server() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service =
                    service_fn(|request: http::Request<hyper::body::Incoming>| async move {
                        let status = if request.uri().path() == "/healthz" {
                            200
                        } else {
                            503
                        };
                        let mut response =
                            http::Response::new(http_body_util::Empty::<bytes::Bytes>::new());
                        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
                        Ok::<_, std::convert::Infallible>(response)
                    });
                tokio::spawn(
                    http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        address
    }

    #[tokio::test]
    async fn an_http2_only_endpoint_is_probed_over_http2() {
        let address = h2c_server().await;
        let host = address.to_string();
        let target = H2ProbeTarget {
            transport: &H2Transport::Plain,
            address,
            host: &host,
        };
        let probe = |path| probe_h2(&target, &Method::GET, path, Duration::from_secs(5));
        assert!(probe("/healthz").await);
        assert!(!probe("/broken").await);
    }
}
