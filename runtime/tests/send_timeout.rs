//! `--send-timeout` (nginx's `send_timeout`): a client that takes nothing of its response for
//! that long is given up on, and the upstream exchange behind it ends. Over HTTP/1.1 the
//! connection closes; over HTTP/2 only the stalled stream is reset (the client keeps its
//! connection alive, answering pings, while it keeps the stream's window shut), and the
//! connection's other streams go on. A client that reads slowly but keeps reading is served to
//! the end however long the response takes. Sidecars take the same flag: an app that stops
//! reading a call's answer releases the called app, across both sidecars and the mutual TLS
//! between them.

mod mesh_identity_support;
#[allow(dead_code)]
mod mesh_sidecar_support;
#[allow(dead_code)]
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod scratch;
mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_sidecar_support::Mesh;
use meshd::RunningServer;
use support::{eventually_within, start_with, test_options, Scratch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SEND_TIMEOUT: Duration = Duration::from_secs(1);
const PIECE: usize = 16 * 1024;

/// A response body of 16 KiB pieces, endless or of `left` pieces, that counts itself in
/// `dropped` when it is dropped (its connection to meshd ended, or it was sent whole).
struct Pieces {
    left: Option<usize>,
    piece: Bytes,
    dropped: Arc<AtomicUsize>,
}

impl Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.left {
            Some(0) => return Poll::Ready(None),
            Some(ref mut left) => *left -= 1,
            None => {}
        }
        Poll::Ready(Some(Ok(Frame::data(self.piece.clone()))))
    }
}

impl Drop for Pieces {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// An HTTP/1.1 upstream: `/endless` answers an endless body, `/pieces/N` one of N pieces; the
/// counter is how many of its bodies have been dropped.
async fn upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let dropped = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let counter = Arc::clone(&dropped);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            let service = service_fn(move |request: Request<Incoming>| {
                let left = request
                    .uri()
                    .path()
                    .strip_prefix("/pieces/")
                    .map(|n| n.parse().unwrap());
                let body = Pieces {
                    left,
                    piece: Bytes::from(vec![b'x'; PIECE]),
                    dropped: Arc::clone(&counter),
                };
                async move { Ok::<_, Infallible>(Response::new(body)) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (address, dropped)
}

/// A gateway in front of a fresh upstream, with a send timeout of [`SEND_TIMEOUT`].
async fn gateway(name: &str) -> (RunningServer, Arc<AtomicUsize>, Scratch) {
    let (upstream, dropped) = upstream().await;
    let dir = Scratch::new(name);
    std::fs::write(
        dir.path("edge.mesh"),
        format!(
            "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route all {{ match * prefix \"/\" public forward app }}\n}}\nservice app {{ endpoints [\"{upstream}\"] timeout 60s }}\n"
        ),
    )
    .unwrap();
    let mut options = test_options(vec![dir.path("edge.mesh")]);
    options.send_timeout = SEND_TIMEOUT;
    (start_with(options).await, dropped, dir)
}

/// An HTTP/2 connection to `address` whose streams open 64 KiB of window at first, and more
/// only as their bodies are read.
async fn http2_client(
    address: SocketAddr,
) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(64 * 1024)
        .adaptive_window(false)
        .handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    // The connection task answers meshd's pings: the connection stays alive throughout.
    tokio::spawn(connection);
    sender
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(format!("http://edge{path}"))
        .body(Empty::new())
        .unwrap()
}

#[tokio::test]
async fn an_http2_stream_whose_client_takes_nothing_is_reset_and_its_upstream_released() {
    let (server, dropped, _dir) = gateway("send-timeout-h2").await;
    let mut sender = http2_client(server.listener("edge").unwrap()).await;

    let response = sender.send_request(get("/endless")).await.unwrap();
    assert_eq!(response.status(), 200);
    let headed = Instant::now();
    // The body is not read: the stream's 64 KiB window stays shut.
    eventually_within(
        Duration::from_secs(20),
        "the upstream's body dropped",
        async || dropped.load(Ordering::SeqCst) == 1,
    )
    .await;
    let waited = headed.elapsed();
    assert!(
        waited >= SEND_TIMEOUT - Duration::from_millis(100),
        "given up on after {waited:?}, before the send timeout"
    );

    // What the window let through, then the stream's reset: RST_STREAM with CANCEL, which h2
    // words "stream no longer needed".
    let error = response.into_body().collect().await.unwrap_err();
    let chain = error_chain(&error);
    assert!(
        chain.contains("stream error received: stream no longer needed"),
        "not a reset: {chain}"
    );

    // The connection is not the stream: it goes on serving.
    let response = sender.send_request(get("/pieces/8")).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), 8 * PIECE);
}

#[tokio::test]
async fn an_http2_client_that_reads_slowly_is_served_past_the_send_timeout() {
    let (server, dropped, _dir) = gateway("send-timeout-h2-slow").await;
    let mut sender = http2_client(server.listener("edge").unwrap()).await;
    let started = Instant::now();
    let response = sender.send_request(get("/pieces/12")).await.unwrap();
    let mut body = response.into_body();
    let mut taken = 0;
    while let Some(frame) = body.frame().await {
        taken += frame.unwrap().into_data().map_or(0, |data| data.len());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(taken, 12 * PIECE);
    // Longer than the send timeout in all, or the test proves nothing.
    assert!(started.elapsed() > SEND_TIMEOUT, "{:?}", started.elapsed());
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_http1_client_that_takes_nothing_is_disconnected_and_its_upstream_released() {
    let (server, dropped, _dir) = gateway("send-timeout-h1").await;
    let mut client = tokio::net::TcpStream::connect(server.listener("edge").unwrap())
        .await
        .unwrap();
    client
        .write_all(b"GET /endless HTTP/1.1\r\nHost: edge\r\n\r\n")
        .await
        .unwrap();
    let asked = Instant::now();
    // Nothing is read: the socket buffers fill and meshd's write waits.
    eventually_within(
        Duration::from_secs(20),
        "the upstream's body dropped",
        async || dropped.load(Ordering::SeqCst) == 1,
    )
    .await;
    assert!(asked.elapsed() >= SEND_TIMEOUT - Duration::from_millis(100));

    // What the buffers held, then the end of the connection.
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), client.read_to_end(&mut received))
        .await
        .expect("the connection was not closed")
        .unwrap();
    assert!(received.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

/// Picard's app may call riker.
const MESH: &str = r#"mesh {
  default deny
  trust_domain "starfleet"
  mtls strict
  allow edge -> [picard]
  allow picard -> riker
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_takes_nothing_of_a_call_through_its_sidecar_releases_the_called_app() {
    let (riker, dropped) = upstream().await;
    let mesh = Mesh::start_with_apps(
        "send-timeout",
        MESH,
        &["--send-timeout", "1s"],
        &[("riker", riker)],
    )
    .await;
    let mut app = tokio::net::TcpStream::connect(mesh.sidecar("picard").outbound)
        .await
        .unwrap();
    app.write_all(b"GET /endless HTTP/1.1\r\nHost: riker\r\n\r\n")
        .await
        .unwrap();
    let asked = Instant::now();
    // Picard's app reads nothing: its sidecar stops reading the mesh stream, riker's sidecar
    // stops reading riker's app.
    eventually_within(
        Duration::from_secs(20),
        "riker's body dropped",
        async || dropped.load(Ordering::SeqCst) == 1,
    )
    .await;
    assert!(asked.elapsed() >= SEND_TIMEOUT - Duration::from_millis(100));
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), app.read_to_end(&mut received))
        .await
        .expect("picard's sidecar did not close the connection")
        .unwrap();
    assert!(received.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain.to_lowercase()
}
