//! `health_check grpc "SERVICE"`: the gRPC health checking protocol
//! (`grpc.health.v1.Health/Check`). The probe sends a `HealthCheckRequest` naming the service
//! (`""`: the server as a whole) on a fresh HTTP/2 connection, as the service's requests go, and
//! the endpoint is healthy only when the call succeeds (`grpc-status` 0) and the answer's
//! `HealthCheckResponse` says `SERVING`. `NOT_SERVING`, `SERVICE_UNKNOWN`, an unknown service
//! (`NOT_FOUND`), a server without the health service (`UNIMPLEMENTED`) and any transport failure
//! are unhealthy.
//!
//! The two messages are one field each, so they are written and read by hand rather than with
//! generated code: `HealthCheckRequest { string service = 1; }` and
//! `HealthCheckResponse { ServingStatus status = 1; }`.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method};
use http_body_util::{BodyExt, Limited};
use meshwork_bundle::GRPC_HEALTH_CHECK_PATH;

use super::health_probe::{send_probe, H2ProbeTarget};
use super::request_body::H2RequestBody;
use crate::varint;

/// `HealthCheckResponse.ServingStatus.SERVING`.
const SERVING: u64 = 1;

/// The most of an answer a probe reads (a `HealthCheckResponse` in its frame is 7 bytes).
const MAX_ANSWER_BYTES: usize = 1024;

/// One probe of the target asking about `service`, within `timeout`.
pub async fn probe_grpc(target: &H2ProbeTarget<'_>, service: &str, timeout: Duration) -> bool {
    let attempt = async {
        let mut headers = HeaderMap::with_capacity(3);
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
        let body = H2RequestBody::Full(Some(check_request(service)));
        let response = send_probe(
            target,
            Method::POST,
            GRPC_HEALTH_CHECK_PATH,
            headers,
            body,
            timeout,
        )
        .await?;
        if response.status() != http::StatusCode::OK {
            return Some(false);
        }
        // A trailers-only answer carries its status in the head.
        let (parts, body) = response.into_parts();
        if grpc_status(&parts.headers).is_some_and(|status| status != "0") {
            return Some(false);
        }
        // The answer is a few bytes; an endpoint that sends more is not healthy, and not read.
        let collected = Limited::new(body, MAX_ANSWER_BYTES).collect().await.ok()?;
        let status = collected
            .trailers()
            .and_then(grpc_status)
            .or_else(|| grpc_status(&parts.headers));
        Some(status == Some("0") && serving(collected.to_bytes()))
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Some(true)))
}

fn grpc_status(headers: &http::HeaderMap) -> Option<&str> {
    headers.get("grpc-status").and_then(|v| v.to_str().ok())
}

/// A `HealthCheckRequest` for `service` in its gRPC frame (uncompressed, length-prefixed).
pub fn check_request(service: &str) -> Bytes {
    let mut message = Vec::with_capacity(service.len() + 6);
    if !service.is_empty() {
        message.push(0x0a); // field 1, length-delimited
        varint::put(&mut message, service.len() as u64);
        message.extend_from_slice(service.as_bytes());
    }
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.extend_from_slice(&[0]);
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    frame.freeze()
}

/// Whether a response body (one gRPC frame holding a `HealthCheckResponse`) says `SERVING`.
pub fn serving(mut body: Bytes) -> bool {
    if body.len() < 5 || body[0] != 0 {
        return false; // not one uncompressed frame
    }
    body.advance(1);
    let length = body.get_u32() as usize;
    if body.len() != length {
        return false;
    }
    let mut status = 0; // proto3 leaves a default (UNKNOWN) out
    while body.has_remaining() {
        let Some(key) = varint::take(&mut body) else {
            return false;
        };
        match (key >> 3, key & 7) {
            (1, 0) => match varint::take(&mut body) {
                Some(value) => status = value,
                None => return false,
            },
            // Fields added later are skipped, as protobuf readers do.
            (_, 0) => {
                if varint::take(&mut body).is_none() {
                    return false;
                }
            }
            (_, 2) => match varint::take(&mut body) {
                Some(len) if len as usize <= body.len() => body.advance(len as usize),
                _ => return false,
            },
            _ => return false,
        }
    }
    status == SERVING
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::super::connection::H2Transport;
    use super::*;

    fn frame(message: &[u8]) -> Bytes {
        let mut out = vec![0];
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
        out.extend_from_slice(message);
        Bytes::from(out)
    }

    #[test]
    fn the_request_names_the_service_or_nothing_for_the_whole_server() {
        assert_eq!(&check_request("")[..], &[0, 0, 0, 0, 0]);
        assert_eq!(
            &check_request("starfleet.Log")[..],
            &frame(b"\x0a\x0dstarfleet.Log")[..]
        );
        let long = "x".repeat(200);
        let request = check_request(&long);
        assert_eq!(&request[5..8], &[0x0a, 0xc8, 0x01]);
        assert_eq!(request.len(), 5 + 3 + 200);
    }

    #[test]
    fn only_serving_is_healthy() {
        assert!(serving(frame(&[0x08, 0x01])));
        assert!(!serving(frame(&[0x08, 0x02])), "NOT_SERVING");
        assert!(!serving(frame(&[0x08, 0x03])), "SERVICE_UNKNOWN");
        assert!(!serving(frame(&[])), "UNKNOWN, left out");
        // A field added later does not hide the status.
        assert!(serving(frame(&[0x12, 0x02, b'o', b'k', 0x08, 0x01])));
        assert!(serving(frame(&[0x18, 0x07, 0x08, 0x01])));
    }

    /// An h2c server answering every call with `body` and `grpc-status` 0 in the trailers.
    async fn answering(body: Bytes) -> SocketAddr {
        use hyper::server::conn::http2;
        use hyper_util::rt::{TokioExecutor, TokioIo};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let body = body.clone();
                let service =
                    hyper::service::service_fn(move |_: http::Request<hyper::body::Incoming>| {
                        let mut trailers = http::HeaderMap::new();
                        trailers.insert("grpc-status", HeaderValue::from_static("0"));
                        let body = http_body_util::Full::new(body.clone())
                            .with_trailers(std::future::ready(Some(Ok(trailers))));
                        async move { Ok::<_, std::convert::Infallible>(http::Response::new(body)) }
                    });
                tokio::spawn(
                    http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        address
    }

    async fn probe(address: SocketAddr) -> bool {
        let host = address.to_string();
        let target = H2ProbeTarget {
            transport: &H2Transport::Plain,
            address,
            host: &host,
        };
        probe_grpc(&target, "", Duration::from_secs(5)).await
    }

    #[tokio::test]
    async fn a_serving_answer_is_healthy_and_an_oversized_one_is_not_read() {
        assert!(probe(answering(frame(&[0x08, 0x01])).await).await);
        assert!(!probe(answering(frame(&[0x08, 0x02])).await).await);
        let padding = vec![0u8; 64 * 1024];
        let mut oversized = vec![0x12, 0x80, 0x80, 0x04];
        oversized.extend_from_slice(&padding);
        oversized.extend_from_slice(&[0x08, 0x01]);
        assert!(!probe(answering(frame(&oversized)).await).await);
    }

    #[test]
    fn malformed_answers_are_unhealthy() {
        assert!(!serving(Bytes::new()));
        assert!(
            !serving(Bytes::from_static(&[1, 0, 0, 0, 2, 0x08, 0x01])),
            "compressed"
        );
        assert!(
            !serving(Bytes::from_static(&[0, 0, 0, 0, 3, 0x08, 0x01])),
            "short"
        );
        assert!(!serving(frame(&[0x08])), "truncated varint");
        assert!(
            !serving(frame(&[0x08, 0x01, 0x12, 0x05, b'x'])),
            "truncated field"
        );
        assert!(!serving(frame(&[0x0d, 0, 0, 0, 0])), "fixed32 is not read");
    }
}
