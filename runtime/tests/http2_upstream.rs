//! HTTP/2 to upstreams over real sockets: trailers pass both ways (a request's trailers reach
//! the upstream, the response's reach the client), a request body streams to the upstream as it
//! comes, and an HTTP/1.1 client can call an `h2c` service.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{start_mesh, TempDir};

/// A body of fixed frames: data pieces, then trailers.
struct Frames {
    data: Vec<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if !this.data.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(this.data.remove(0)))));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }
}

fn trailers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

/// An h2c-only upstream: answers the request's body back, with trailers naming what it saw (the
/// request's `x-checksum` trailer and the protocol it was spoken to in).
async fn h2c_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(|request: Request<Incoming>| async move {
                let version = format!("{:?}", request.version());
                let collected = request.into_body().collect().await.unwrap();
                let seen = collected
                    .trailers()
                    .and_then(|t| t.get("x-checksum"))
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_else(|| "none".to_string());
                let body = Frames {
                    data: vec![collected.to_bytes()],
                    trailers: Some(trailers(&[
                        ("x-request-trailer", &seen),
                        ("x-upstream-version", &version),
                    ])),
                };
                Ok::<_, Infallible>(Response::new(body))
            });
            tokio::spawn(
                http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    address
}

async fn gateway(dir: &TempDir, upstream: SocketAddr) -> (meshd::run::RunningServer, SocketAddr) {
    let source = format!(
        "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route all {{ match * prefix \"/\" public forward h2app }}\n}}\nservice h2app {{ endpoints [\"{upstream}\"] protocol h2c }}\n"
    );
    let server = start_mesh(dir, &source).await;
    let address = server.listeners[0].address;
    (server, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailers_pass_both_ways_between_an_http2_client_and_an_h2c_upstream() {
    let dir = TempDir::new("h2-trailers");
    let upstream = h2c_upstream().await;
    let (_server, address) = gateway(&dir, upstream).await;
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    let body = Frames {
        data: vec![Bytes::from_static(b"first "), Bytes::from_static(b"second")],
        trailers: Some(trailers(&[("x-checksum", "c0ffee")])),
    };
    let request = Request::post(format!("http://{address}/upload"))
        .body(body)
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let collected = response.into_body().collect().await.unwrap();
    let answer_trailers = collected
        .trailers()
        .cloned()
        .expect("the upstream's trailers arrive");
    assert_eq!(collected.to_bytes(), "first second");
    assert_eq!(answer_trailers["x-request-trailer"], "c0ffee");
    assert_eq!(answer_trailers["x-upstream-version"], "HTTP/2.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http1_client_reaches_an_h2c_service() {
    let dir = TempDir::new("h2-from-http1");
    let upstream = h2c_upstream().await;
    let (_server, address) = gateway(&dir, upstream).await;
    let client = support::client();
    let request = Request::post(format!("http://{address}/upload"))
        .body(Full::new(Bytes::from_static(b"over http/1.1")))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "over http/1.1");
}
