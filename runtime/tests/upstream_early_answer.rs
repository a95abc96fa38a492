//! An upstream that answers an upload before reading it (a 413 or a 401 to a large body, or a
//! server that does not want the body) and closes: meshd's write of the body fails, but the
//! answer was sent before the close, and it reaches the client as nginx and Envoy pass it on,
//! not a 502 for the failed write. The connection is not used again.

#[allow(dead_code)] // the wire helpers are shared with http1.rs, which uses them all
mod http1_wire;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::Duration;

use support::{start_mesh, TempDir};

/// Posts a body of `length` bytes to `edge` (written by a thread of its own, whatever happens to
/// the connection) and reads the answer until the connection closes.
fn post_large(edge: SocketAddr, length: usize) -> String {
    let mut stream = TcpStream::connect(edge).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    std::thread::spawn(move || {
        let head =
            format!("POST /upload HTTP/1.1\r\nHost: edge\r\nContent-Length: {length}\r\n\r\n");
        let _ = writer.write_all(head.as_bytes());
        let piece = vec![b'x'; 64 * 1024];
        let mut left = length;
        while left > 0 {
            let n = left.min(piece.len());
            if writer.write_all(&piece[..n]).is_err() {
                return;
            }
            left -= n;
        }
    });
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    // Until the answer's body (9 bytes) is in, or the connection ends.
    while !String::from_utf8_lossy(&answer).ends_with("too large") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_sent_before_the_body_was_read_reaches_the_client() {
    let (upstream, connections) = http1_wire::scripted_upstream(|_| {
        b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 9\r\n\r\ntoo large"
            .to_vec()
    })
    .await;
    let dir = TempDir::new("early-answer");
    let source = format!(
        "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route upload {{ match POST \"/upload\" public forward store }}\n}}\nservice store {{ endpoints [\"{upstream}\"] }}\n"
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
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
