//! Kept-alive upstream connections: reused while fresh, closed by meshd once idle longer than
//! `--upstream-idle-timeout`, and let go as soon as their upstream closes them, so a burst's
//! connections do not stay open (or half-closed, each holding a descriptor) after it.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn program(upstream: SocketAddr) -> String {
    format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route app {{ match GET prefix "/" public forward app }}
}}
service app {{ endpoints ["{upstream}"] }}
"#
    )
}

/// meshd on `upstream` with one worker (one idle list: which connection serves is predictable).
async fn start_meshd(
    dir: &TempDir,
    upstream: SocketAddr,
    idle: Option<Duration>,
) -> meshd::RunningServer {
    let file = dir.path("main.mesh");
    std::fs::write(&file, program(upstream)).unwrap();
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
    let dir = TempDir::new("upstream-pool-idle");
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
    let dir = TempDir::new("upstream-pool-closed");
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
