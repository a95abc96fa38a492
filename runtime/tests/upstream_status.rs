//! An upstream status outside 100–599 is invalid (RFC 9110 §15: a client SHOULD treat it as a
//! 5xx), so meshd answers 502 rather than hand its client an invalid response: from an HTTP/1.1
//! upstream (a raw socket) and from an h2c one (hyper, whose types take statuses up to 999).
//! 599, the last valid code, passes through.

#[allow(dead_code)] // the wire helpers are shared with http1.rs, which uses them all
mod http1_wire;
mod scratch;
mod support;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{get, start_mesh, Scratch};

/// An h2c upstream answering `/NNN` with status NNN.
async fn h2c_status_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(|request: Request<Incoming>| async move {
                let code = request.uri().path()[1..].parse().unwrap_or(200);
                let mut response = Response::new(Full::new(Bytes::from_static(b"odd")));
                *response.status_mut() = StatusCode::from_u16(code).unwrap();
                Ok::<_, Infallible>(response)
            });
            tokio::spawn(
                http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_past_599_from_an_upstream_is_answered_502() {
    let (http1, _) = http1_wire::scripted_upstream(|head| {
        let code = head.split_whitespace().nth(1).unwrap_or("/200")[1..].to_string();
        format!("HTTP/1.1 {code} Odd\r\ncontent-length: 3\r\n\r\nodd").into_bytes()
    })
    .await;
    let h2c = h2c_status_upstream().await;
    let dir = Scratch::new("upstream-status");
    let source = format!(
        "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route one {{ match * prefix \"/h1\" public forward plain strip_prefix \"/h1\" }}\n  route two {{ match * prefix \"/h2\" public forward h2app strip_prefix \"/h2\" }}\n}}\nservice plain {{ endpoints [\"{http1}\"] }}\nservice h2app {{ endpoints [\"{h2c}\"] protocol h2c }}\n"
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    for prefix in ["/h1", "/h2"] {
        let invalid = get(edge, &format!("{prefix}/999"), &[]).await;
        assert_eq!(invalid.status, 502, "{prefix}: {}", invalid.body);
        assert!(invalid.body.contains("599"), "{prefix}: {}", invalid.body);
        let last_valid = get(edge, &format!("{prefix}/599"), &[]).await;
        assert_eq!(last_valid.status, 599, "{prefix}");
        assert_eq!(last_valid.body, "odd", "{prefix}");
    }
}
