//! Request mirroring over real sockets: copies reach the mirror with a `-shadow` host and the
//! body; a mirror that answers 500 or never answers changes nothing in the primary's answers; a
//! hanging mirror holds at most `queue` copies (the rest are dropped and counted); a body over
//! `max_body` is not copied.

mod scratch;
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use support::*;

/// What a recording mirror received: the request head (lower-cased) and the body.
#[derive(Debug)]
struct Received {
    head: String,
    body: Vec<u8>,
}

/// A mirror that records each request and answers 200 (`hang`: accepts and never answers).
async fn recording_mirror(
    hang: bool,
) -> (
    SocketAddr,
    mpsc::UnboundedReceiver<Received>,
    Arc<AtomicUsize>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, received) = mpsc::unbounded_channel();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buffer = [0u8; 4096];
                let (head, mut body, length) = loop {
                    let Ok(n) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buffer[..n]);
                    if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (head, data[end + 4..].to_vec(), length);
                    }
                };
                while body.len() < length {
                    let Ok(n) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&buffer[..n]);
                }
                if hang {
                    // Hold the connection open, unanswered, until the test ends.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                let _ = sender.send(Received { head, body });
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (address, received, accepted)
}

fn program(primary: SocketAddr, mirror: SocketAddr, options: &str) -> String {
    format!(
        "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route all {{ match * prefix \"/\" public mirror shadow {options} forward crew }}\n}}\nservice crew {{ endpoints [\"{primary}\"] }}\nservice shadow {{ endpoints [\"{mirror}\"] timeout 30s }}\n"
    )
}

fn sample(metrics: &str, parts: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| parts.iter().all(|p| l.contains(p)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn post(address: SocketAddr, path: &str, body: Vec<u8>) -> Answer {
    let request = http::Request::post(format!("http://{address}{path}"))
        .header("host", "api.starfleet.test:8443")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    send(&client(), request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_gets_a_copy_with_a_shadow_host_and_the_body() {
    let primary = Upstream::start("crew", Behaviour::Answer).await;
    let (mirror, mut received, _) = recording_mirror(false).await;
    let dir = Scratch::new("mirror-copy");
    let server = start_mesh(&dir, &program(primary.address, mirror, "max_body 1KiB")).await;
    let edge = server.listener("edge").unwrap();

    let answer = post(edge, "/officers?rank=captain", b"engage".to_vec()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["upstream"], "crew", "the primary answers");
    let copy = tokio::time::timeout(Duration::from_secs(20), received.recv())
        .await
        .expect("the mirror got a copy")
        .unwrap();
    assert!(
        copy.head
            .starts_with("post /officers?rank=captain http/1.1"),
        "{}",
        copy.head
    );
    assert!(
        copy.head.contains("host: api.starfleet.test-shadow:8443"),
        "{}",
        copy.head
    );
    assert_eq!(copy.body, b"engage");

    // A body over max_body goes to the primary whole and is not copied.
    let big = vec![b'x'; 4096];
    let answer = post(edge, "/log", big).await;
    assert_eq!(answer.status, 200);
    let metrics = admin_get(&server, "/metrics").await.body;
    assert_eq!(
        sample(
            &metrics,
            &["meshd_mirror_requests_total", "result=\"skipped_body\""]
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(primary.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_answering_500_never_changes_the_primary_answer() {
    const N: usize = 30;
    let primary = Upstream::start("crew", Behaviour::Answer).await;
    let failing = Upstream::start("shadow", Behaviour::Status(500)).await;
    let dir = Scratch::new("mirror-500");
    let server = start_mesh(&dir, &program(primary.address, failing.address, "")).await;
    let edge = server.listener("edge").unwrap();
    for _ in 0..N {
        let answer = get(edge, "/officers", &[]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json()["upstream"], "crew");
    }
    eventually("every copy answered by the mirror", async || {
        let metrics = admin_get(&server, "/metrics").await.body;
        sample(
            &metrics,
            &["meshd_mirror_requests_total", "result=\"sent\""],
        ) == N as f64
    })
    .await;
    assert_eq!(failing.requests(), N);
    assert_eq!(primary.requests(), N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_mirror_holds_at_most_its_queue_and_never_delays_the_primary() {
    const N: usize = 40;
    const QUEUE: usize = 4;
    let primary = Upstream::start("crew", Behaviour::Answer).await;
    let (mirror, _received, accepted) = recording_mirror(true).await;
    let dir = Scratch::new("mirror-hang");
    let server = start_mesh(
        &dir,
        &program(primary.address, mirror, &format!("queue {QUEUE}")),
    )
    .await;
    let edge = server.listener("edge").unwrap();
    let started = Instant::now();
    for _ in 0..N {
        let answer = get(edge, "/officers", &[]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json()["upstream"], "crew");
    }
    // Each copy may wait 30 s on the mirror; had the primary waited for one, this would not hold.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let metrics = admin_get(&server, "/metrics").await.body;
    assert_eq!(
        sample(
            &metrics,
            &["meshd_mirror_requests_total", "result=\"dropped\""]
        ),
        (N - QUEUE) as f64,
        "{metrics}"
    );
    assert!(
        accepted.load(Ordering::SeqCst) <= QUEUE,
        "{} connections to the mirror",
        accepted.load(Ordering::SeqCst)
    );
}
