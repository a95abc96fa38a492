//! An active health check of an HTTP/2 endpoint: the probe's request on a fresh HTTP/2
//! connection (h2c, TLS or the mesh's mutual TLS, as the service's requests go), since an
//! HTTP/2-only server would refuse an HTTP/1.1 probe and be taken out of balancing for it.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderValue, Method};

use super::connection::{H2Connections, H2Transport};
use super::request_body::H2RequestBody;

/// One probe: `method path` to `address` (named `host`), healthy on a 2xx answer head within
/// `timeout`.
pub async fn probe_h2(
    transport: &H2Transport,
    address: SocketAddr,
    host: &str,
    method: &Method,
    path: &str,
    timeout: Duration,
) -> bool {
    let attempt = async {
        let connections = H2Connections::new(transport.clone(), 1);
        let (mut sender, _stream) = connections.sender(0, address, host, timeout).await.ok()?;
        let uri = http::Uri::builder()
            .scheme(connections.scheme())
            .authority(host)
            .path_and_query(path)
            .build()
            .ok()?;
        let mut request = http::Request::new(H2RequestBody::Empty);
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        request.headers_mut().insert(
            http::header::USER_AGENT,
            HeaderValue::from_static("meshd-health-check"),
        );
        let response = sender.send_request(request).await.ok()?;
        Some(response.status().is_success())
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Some(true)))
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
        let second = Duration::from_secs(5);
        let probe = |path: &'static str| {
            let host = host.clone();
            async move {
                probe_h2(
                    &H2Transport::Plain,
                    address,
                    &host,
                    &Method::GET,
                    path,
                    second,
                )
                .await
            }
        };
        assert!(probe("/healthz").await);
        assert!(!probe("/broken").await);
    }
}
