//! Kept-alive upstream connections: reused while fresh, closed by meshd once idle longer than
//! `--upstream-idle-timeout` (HTTP/2 connections too, once they carry no stream), and let go as
//! soon as their upstream closes them, so a burst's connections do not stay open (or
//! half-closed, each holding a descriptor) after it.

mod scratch;
mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn program(upstream: SocketAddr, protocol: &str) -> String {
    format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route app {{ match GET prefix "/" public forward app }}
}}
service app {{ endpoints ["{upstream}"] protocol {protocol} }}
"#
    )
}

/// meshd on `upstream` with one worker (one idle list: which connection serves is predictable).
async fn start_meshd(
    dir: &Scratch,
    upstream: SocketAddr,
    idle: Option<Duration>,
) -> meshd::RunningServer {
    start_meshd_speaking(dir, upstream, "http1", idle).await
}

async fn start_meshd_speaking(
    dir: &Scratch,
    upstream: SocketAddr,
    protocol: &str,
    idle: Option<Duration>,
) -> meshd::RunningServer {
    let file = dir.path("main.mesh");
    std::fs::write(&file, program(upstream, protocol)).unwrap();
    let mut options = test_options(vec![file]);
    options.workers = 1;
    if let Some(idle) = idle {
        options.upstream_idle_timeout = idle;
    }
    start_with(options).await
}

#[tokio::test]
async fn an_idle_upstream_connection_is_reused_then_closed_after_the_idle_timeout() {
    let upstream = Upstream::start("app", Behaviour::Answer).await;
    let dir = Scratch::new("upstream-pool-idle");
    let server = start_meshd(&dir, upstream.address, Some(Duration::from_secs(1))).await;
    let gateway = server.listener("edge").unwrap();
    let client = client();
    for _ in 0..2 {
        let answer = send(
            &client,
            http::Request::get(format!("http://{gateway}/a"))
                .body(Default::default())
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    assert_eq!(
        upstream.connections(),
        1,
        "the second request reuses the first connection"
    );
    assert_eq!(upstream.open_connections(), 1);
    eventually_within(
        Duration::from_secs(10),
        "meshd closes the connection idle for more than 1 s",
        async || upstream.open_connections() == 0,
    )
    .await;
    let answer = get(gateway, "/b", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        upstream.connections(),
        2,
        "a new connection after the idle one was closed"
    );
}

/// An upstream that answers each request with `ok`, keeping the connection alive, and closes a
/// connection that stays idle for 100 ms (as Node.js does after its 5 s `keepAliveTimeout`).
async fn impatient_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let read =
                        tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer));
                    match read.await {
                        Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buffer[..n]),
                        // Idle (or closed): close.
                        _ => return,
                    }
                    if head.windows(4).any(|w| w == b"\r\n\r\n") {
                        head.clear();
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    address
}

/// Sockets of this process (meshd runs in it) connected to `port` in `CLOSE_WAIT`: the peer
/// closed, this side has not.
fn half_closed_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields[2]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            remote_port == Some(port) && fields[3] == "08"
        })
        .count()
}

#[tokio::test]
async fn a_connection_its_upstream_closed_is_let_go_without_waiting_for_a_request() {
    let upstream = impatient_upstream().await;
    let dir = Scratch::new("upstream-pool-closed");
    // The default idle timeout (60 s): only the upstream's close can end the connection early.
    let server = start_meshd(&dir, upstream, None).await;
    let gateway = server.listener("edge").unwrap();
    let answer = get(gateway, "/a", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    eventually("the upstream closes its side", async || {
        half_closed_to(upstream.port()) == 1
    })
    .await;
    eventually_within(
        Duration::from_secs(15),
        "meshd closes its side of the connection the upstream closed",
        async || half_closed_to(upstream.port()) == 0,
    )
    .await;
    let answer = get(gateway, "/b", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

/// An h2c upstream answering `ok` (`/slow`: after 3 s); counts the connections accepted and
/// those still open.
async fn h2c_upstream() -> (SocketAddr, Arc<AtomicU64>, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (accepted, open) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (count, still_open) = (Arc::clone(&accepted), Arc::clone(&open));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            still_open.fetch_add(1, Ordering::SeqCst);
            let open = Arc::clone(&still_open);
            tokio::spawn(async move {
                let service = service_fn(|request: http::Request<Incoming>| async move {
                    if request.uri().path() == "/slow" {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                    }
                    Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (address, accepted, open)
}

#[tokio::test]
async fn an_http2_connection_that_carries_no_stream_is_closed_after_the_idle_timeout() {
    let (upstream, accepted, open) = h2c_upstream().await;
    let dir = Scratch::new("upstream-pool-h2");
    let server = start_meshd_speaking(&dir, upstream, "h2c", Some(Duration::from_secs(1))).await;
    let gateway = server.listener("edge").unwrap();
    for path in ["/a", "/b"] {
        let answer = get(gateway, path, &[]).await;
        assert_eq!((answer.status.as_u16(), answer.body.as_str()), (200, "ok"));
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "both requests share one connection"
    );
    eventually_within(
        Duration::from_secs(10),
        "meshd closes the HTTP/2 connection idle for more than 1 s",
        async || open.load(Ordering::SeqCst) == 0,
    )
    .await;
    let answer = get(gateway, "/c", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "a new connection after the idle one"
    );
}

#[tokio::test]
async fn an_http2_connection_with_a_stream_open_is_kept_past_the_idle_timeout() {
    let (upstream, accepted, open) = h2c_upstream().await;
    let dir = Scratch::new("upstream-pool-h2-busy");
    let server = start_meshd_speaking(&dir, upstream, "h2c", Some(Duration::from_secs(1))).await;
    let gateway = server.listener("edge").unwrap();
    // Its one stream stays open three times the idle timeout, past several sweeps.
    let answer = get(gateway, "/slow", &[]).await;
    assert_eq!((answer.status.as_u16(), answer.body.as_str()), (200, "ok"));
    let answer = get(gateway, "/after", &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the next request took the same connection"
    );
    assert_eq!(open.load(Ordering::SeqCst), 1);
}
