//! An upstream that answers an upload before reading it (a 413 or a 401 to a large body, or a
//! server that does not want the body) and closes: meshd's write of the body fails, but the
//! answer was sent before the close, and it reaches the client as nginx and Envoy pass it on,
//! not a 502 for the failed write. The connection is not used again.
//!
//! An upstream that answers so and then neither reads the rest nor closes gets the same: meshd
//! watches for an answer while it writes (or waits for the client's body), and a refusal (any
//! answer but a success) ends the upload. An early success from a server that goes on reading is
//! not taken for one: the body is written whole.

#[allow(dead_code)] // the wire helpers are shared with http1.rs, which uses them all
mod http1_wire;
mod scratch;
mod support;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use support::{post_upload, start_mesh, upstream_answering_unread, Scratch};

/// Posts a body of `length` bytes to `edge` and reads the answer until its body ("too large") is
/// in.
fn post_large(edge: SocketAddr, length: usize) -> String {
    post_upload(edge, "edge", length, length, "too large")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_sent_before_the_body_was_read_reaches_the_client() {
    let (upstream, connections) = http1_wire::scripted_upstream(|_| {
        b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 9\r\n\r\ntoo large"
            .to_vec()
    })
    .await;
    let dir = Scratch::new("early-answer");
    let (_server, edge) = edge_to(&dir, upstream).await;
    for n in 1..=3 {
        let answer = tokio::task::spawn_blocking(move || post_large(edge, 8 << 20))
            .await
            .unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "upload {n} got {answer:?}"
        );
        assert!(answer.ends_with("too large"), "upload {n} got {answer:?}");
        // Each upload on a connection of its own: the one the answer came on is not reused.
        assert_eq!(connections.load(Ordering::SeqCst), n);
    }
}

/// The gateway in front of `upstream`, with a try timeout far longer than any answer here takes.
async fn edge_to(dir: &Scratch, upstream: SocketAddr) -> (meshd::RunningServer, SocketAddr) {
    let source = format!(
        "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route upload {{ match POST \"/upload\" public forward store }}\n}}\nservice store {{ endpoints [\"{upstream}\"] timeout 120s }}\n"
    );
    let server = start_mesh(dir, &source).await;
    let edge = server.listener("edge").unwrap();
    (server, edge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_from_an_upstream_that_stops_reading_and_stays_open_reaches_the_client() {
    let upstream = upstream_answering_unread(
        b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 9\r\n\r\ntoo large",
    )
    .await;
    let dir = Scratch::new("early-answer-open");
    let (_server, edge) = edge_to(&dir, upstream).await;
    // 64 MiB: far more than the socket buffers between meshd and the upstream hold, so meshd's
    // write stops on a full buffer long before the body is all sent.
    let answer = tokio::task::spawn_blocking(move || post_large(edge, 64 << 20))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "got {answer:?}");
    assert!(answer.ends_with("too large"), "got {answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_while_the_client_is_still_sending_its_body_reaches_the_client() {
    let upstream = upstream_answering_unread(
        b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 12\r\n\r\nunauthorized",
    )
    .await;
    let dir = Scratch::new("early-answer-slow-client");
    let (_server, edge) = edge_to(&dir, upstream).await;
    // 64 KiB of a 1 MiB body, and then the client waits: meshd has written what it got and waits
    // for more, when the upstream's answer comes.
    let answer = tokio::task::spawn_blocking(move || {
        post_upload(edge, "edge", 1 << 20, 64 << 10, "unauthorized")
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "got {answer:?}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "got {answer:?}"
    );
    assert!(answer.ends_with("unauthorized"), "got {answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_success_from_an_upstream_that_goes_on_reading_gets_the_whole_body() {
    // Answers 200 with its head at once, then reads the whole body and ends the answer with the
    // number of bytes it received.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = vec![0u8; 64 << 10];
                while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let end = buffer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length: "))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                let text = format!("received {length:>12}");
                let answer_head =
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", text.len());
                stream.write_all(answer_head.as_bytes()).await.unwrap();
                let mut received = buffer.len() - end;
                while received < length {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => received += n,
                    }
                }
                stream
                    .write_all(format!("received {received:>12}").as_bytes())
                    .await
                    .unwrap();
            });
        }
    });
    let dir = Scratch::new("early-success");
    let (_server, edge) = edge_to(&dir, upstream).await;
    let length = 64 << 20;
    let answer = tokio::task::spawn_blocking(move || {
        post_upload(edge, "edge", length, length, &format!("{length:>12}"))
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "got {answer:?}");
    assert!(
        answer.ends_with(&format!("received {length:>12}")),
        "got {answer:?}"
    );
}
