//! Strict HTTP/1.1 framing on the wire (RFC 9112): a request head or a chunk-size line ending in
//! a bare LF, a chunk size past the bound or a u64, and chunk extensions past their bounds are
//! refused with 400 and the connection closed, before anything smuggled behind them can reach
//! the upstream. Clients are raw sockets; the upstream is a raw one that records every head.

#[allow(dead_code)] // the wire helpers are shared with http1.rs, which uses them all
mod http1_wire;
mod scratch;
mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http1_wire::*;
use support::*;

/// A raw upstream answering 200 to everything, and the request lines it received.
async fn recording_upstream() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let (address, _) = scripted_upstream(move |head| {
        let line = head.lines().next().unwrap_or_default().to_string();
        record.lock().unwrap().push(line);
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec()
    })
    .await;
    (address, seen)
}

/// Sends `request` on a new connection; asserts a 400 followed by the connection closing.
async fn assert_refused(edge: SocketAddr, request: &[u8]) -> WireResponse {
    let mut wire = Wire::connect(edge).await;
    wire.send(request).await;
    let answer = wire.response(false).await;
    assert_eq!(
        answer.status,
        400,
        "{:?}: {}",
        String::from_utf8_lossy(request),
        answer.text()
    );
    assert!(wire.closes().await, "the connection stays open after a 400");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_heads_with_a_bare_line_feed_are_refused_and_never_forwarded() {
    let (upstream, seen) = recording_upstream().await;
    let dir = Scratch::new("bare-lf-head");
    let server = gateway_to(&dir, upstream).await;
    let edge = server.listener("edge").unwrap();
    for request in [
        &b"GET /a HTTP/1.1\nHost: edge\r\n\r\n"[..],
        b"GET /a HTTP/1.1\r\nHost: edge\n\r\n",
        b"GET /a HTTP/1.1\r\nHost: edge\r\n\n",
        b"GET /a HTTP/1.1\r\nHost: edge\nX-Smuggled: 1\r\n\r\n",
        b"POST /a HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\n\r\n0\r\n\r\n",
        b"\nGET /a HTTP/1.1\r\nHost: edge\r\n\r\n",
    ] {
        let answer = assert_refused(edge, request).await;
        assert!(answer.text().contains("bare LF"), "{}", answer.text());
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
    // The same requests with CRLF are served.
    let mut wire = Wire::connect(edge).await;
    wire.send(b"GET /a HTTP/1.1\r\nHost: edge\r\nX-Smuggled: 1\r\n\r\n")
        .await;
    assert_eq!(wire.response(false).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_lines_ending_in_a_bare_line_feed_are_refused_and_nothing_smuggled_behind_them_is_forwarded(
) {
    let (upstream, seen) = recording_upstream().await;
    let dir = Scratch::new("bare-lf-chunk");
    let server = gateway_to(&dir, upstream).await;
    let edge = server.listener("edge").unwrap();
    let smuggle = "GET /admin HTTP/1.1\r\nHost: edge\r\n\r\n";
    for body in [
        format!("5\nhello\r\n0\r\n\r\n{smuggle}"),
        format!("5\r\nhello\n0\r\n\r\n{smuggle}"),
        format!("5\r\nhello\r\n0\n\r\n{smuggle}"),
        format!("5\r\nhello\r\n0\r\n\n{smuggle}"),
        format!("0\nX: y\r\n\r\n{smuggle}"),
    ] {
        let request = format!(
            "POST /upload HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
        );
        assert_refused(edge, request.as_bytes()).await;
    }
    let lines = seen.lock().unwrap().clone();
    assert!(
        lines.iter().all(|line| !line.contains("/admin")),
        "a smuggled request reached the upstream: {lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_sizes_that_overflow_or_pass_the_bound_are_refused_at_once() {
    let (upstream, seen) = recording_upstream().await;
    let dir = Scratch::new("chunk-size");
    let server = gateway_to(&dir, upstream).await;
    let edge = server.listener("edge").unwrap();
    for size in [
        "ffffffffffffffff",
        "10000000000000000",
        "100000000",
        "99999999999999999999999999999999",
    ] {
        // The body then ends as if the size were small: waiting for 2^64-1 bytes would hang.
        let request = format!(
            "POST /upload HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nhello\r\n0\r\n\r\n"
        );
        assert_refused(edge, request.as_bytes()).await;
    }
    // The largest size accepted is eight hex digits; the body may end early and is refused as
    // incomplete only once the client closes, so here a small chunk shows the bound's other side.
    let mut wire = Wire::connect(edge).await;
    wire.send(b"POST /upload HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\n\r\n00000005\r\nhello\r\n0\r\n\r\n").await;
    assert_eq!(wire.response(false).await.status, 200);
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|line| line.starts_with("POST /upload")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_extensions_are_bounded_and_must_follow_the_grammar() {
    let (upstream, _) = recording_upstream().await;
    let dir = Scratch::new("chunk-ext");
    let server = gateway_to(&dir, upstream).await;
    let edge = server.listener("edge").unwrap();
    let head = "POST /upload HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\n\r\n";
    // One line longer than 4 KiB.
    let long = format!("{head}1;e={}\r\na\r\n0\r\n\r\n", "x".repeat(5000));
    assert_refused(edge, long.as_bytes()).await;
    // 1-byte chunks whose extensions add up past 16 KiB.
    let mut many = head.to_string();
    for _ in 0..20 {
        many.push_str(&format!("1;e={}\r\na\r\n", "x".repeat(1000)));
    }
    many.push_str("0\r\n\r\n");
    assert_refused(edge, many.as_bytes()).await;
    // Not the grammar: a bare CR inside a quoted value, a space after the size, an empty name.
    for line in ["5;a=\"x\ry\"", "5 ", "5;", "5;a=b c"] {
        let request = format!("{head}{line}\r\nhello\r\n0\r\n\r\n");
        assert_refused(edge, request.as_bytes()).await;
    }
    // Well-formed extensions are skipped and the body forwarded.
    let mut wire = Wire::connect(edge).await;
    wire.send(
        format!("{head}5 ; name = \"quoted ; value\" ; flag\r\nhello\r\n0\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(wire.response(false).await.status, 200);
}
