//! meshd's HTTP/1.1 server on the wire: framing (pipelining, chunked bodies with extensions and
//! trailers, interim responses, bodiless statuses), connection management (`Connection: close`
//! both ways, HTTP/1.0 keep-alive, half-close, the idle timeout), `Expect: 100-continue`, and
//! bodies streamed both ways with backpressure. Clients are raw TCP sockets, so every byte meshd
//! sends is checked; upstreams are hyper servers or scripted raw ones.

mod http1_wire;
mod scratch;
mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http1_wire::*;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("pipelining");
    let server = gateway_to(&dir, upstream.address).await;
    let mut wire = Wire::connect(server.listener("edge").unwrap()).await;
    wire.send(b"GET /one HTTP/1.1\r\nHost: edge\r\n\r\nPOST /two HTTP/1.1\r\nHost: edge\r\nContent-Length: 3\r\n\r\nabcGET /ping HTTP/1.1\r\nHost: edge\r\n\r\nGET /four HTTP/1.1\r\nHost: edge\r\n\r\n").await;
    let one = wire.response(false).await;
    assert_eq!(one.json()["path"], "/one");
    let two = wire.response(false).await;
    assert_eq!(two.json()["path"], "/two");
    assert_eq!(two.json()["body"], "abc");
    assert_eq!(wire.response(false).await.text(), "pong");
    assert_eq!(wire.response(false).await.json()["path"], "/four");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_request_bodies_with_extensions_and_trailers_are_forwarded_whole() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("chunked-request");
    let server = gateway_to(&dir, upstream.address).await;
    let mut wire = Wire::connect(server.listener("edge").unwrap()).await;
    wire.send(b"POST /up HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n6 ; x=\"y\"\r\n world\r\n0\r\nX-Checksum: 11\r\n\r\n").await;
    let answer = wire.response(false).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["body"], "hello world");
    // The connection goes on after the trailers.
    wire.send(b"GET /ping HTTP/1.1\r\nHost: edge\r\n\r\n").await;
    assert_eq!(wire.response(false).await.text(), "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_responses_with_extensions_and_trailers_are_rechunked_or_closed_for_http10() {
    let (upstream, _) = scripted_upstream(|_| {
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5;name=v\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n".to_vec()
    })
    .await;
    let dir = Scratch::new("chunked-response");
    let server = gateway_to(&dir, upstream).await;
    let edge = server.listener("edge").unwrap();
    let mut wire = Wire::connect(edge).await;
    wire.send(b"GET /a HTTP/1.1\r\nHost: edge\r\n\r\n").await;
    let answer = wire.response(false).await;
    assert_eq!(
        (answer.framing, answer.text().as_str()),
        ("chunked", "hello world")
    );
    assert!(answer.header("trailer").is_none(), "{:?}", answer.headers);
    wire.send(b"GET /ping HTTP/1.1\r\nHost: edge\r\n\r\n").await;
    assert_eq!(wire.response(false).await.text(), "pong");
    // HTTP/1.0 has no chunked encoding: the body ends with the connection.
    let mut old = Wire::connect(edge).await;
    old.send(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    let answer = old.response(false).await;
    assert_eq!(
        (answer.framing, answer.text().as_str()),
        ("close", "hello world")
    );
    assert_eq!(answer.header("connection"), Some("close"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_responses_are_skipped_and_bodiless_statuses_keep_the_framing() {
    let (upstream, _) = scripted_upstream(|head| {
        let path = head.split(' ').nth(1).unwrap_or("/");
        match path {
            "/early" => b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            "/none" => b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n".to_vec(),
            "/same" => b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 10\r\n\r\n".to_vec(),
            _ => b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nelse".to_vec(),
        }
    })
    .await;
    let dir = Scratch::new("interim");
    let server = gateway_to(&dir, upstream).await;
    let mut wire = Wire::connect(server.listener("edge").unwrap()).await;
    wire.send(b"GET /early HTTP/1.1\r\nHost: edge\r\n\r\nGET /none HTTP/1.1\r\nHost: edge\r\n\r\nGET /same HTTP/1.1\r\nHost: edge\r\n\r\nGET /else HTTP/1.1\r\nHost: edge\r\n\r\n").await;
    let early = wire.response(false).await;
    assert_eq!((early.status, early.text().as_str()), (200, "ok"));
    let none = wire.response(false).await;
    assert_eq!(none.status, 204);
    assert_eq!(none.header("x-a"), Some("1"));
    assert!(none.header("content-length").is_none());
    assert!(none.header("transfer-encoding").is_none());
    let same = wire.response(false).await;
    assert_eq!(same.status, 304);
    assert_eq!(same.header("content-length"), Some("10"));
    // Had meshd sent a body after 204 or 304, it would be read as this response's head.
    let last = wire.response(false).await;
    assert_eq!((last.status, last.text().as_str()), (200, "else"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_requests_get_lengths_without_bodies() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("head");
    let server = gateway_to(&dir, upstream.address).await;
    let mut wire = Wire::connect(server.listener("edge").unwrap()).await;
    wire.send(b"HEAD /ping HTTP/1.1\r\nHost: edge\r\n\r\nHEAD /x HTTP/1.1\r\nHost: edge\r\n\r\nGET /ping HTTP/1.1\r\nHost: edge\r\n\r\n").await;
    // Route `ping` matches GET only, so HEAD /ping falls through to the catch-all route.
    let own = wire.response(true).await;
    assert_eq!(own.status, 200);
    assert!(own.header("content-length").is_some());
    let forwarded = wire.response(true).await;
    assert_eq!(forwarded.status, 200);
    assert!(forwarded.header("content-length").is_some());
    assert_eq!(wire.response(false).await.text(), "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_from_the_client_ends_the_connection_after_the_response() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("close-client");
    let server = gateway_to(&dir, upstream.address).await;
    let mut wire = Wire::connect(server.listener("edge").unwrap()).await;
    wire.send(b"GET /a HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: edge\r\n\r\n").await;
    let answer = wire.response(false).await;
    assert_eq!(answer.json()["path"], "/a");
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(
        wire.closes().await,
        "the pipelined request after close was served"
    );
    assert_eq!(upstream.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_from_the_upstream_keeps_the_client_connection() {
    let (upstream, connections) = scripted_upstream(|_| {
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_vec()
    })
    .await;
    let dir = Scratch::new("close-upstream");
    let server = gateway_to(&dir, upstream).await;
    let mut wire = Wire::connect(server.listener("edge").unwrap()).await;
    for _ in 0..3 {
        wire.send(b"GET /a HTTP/1.1\r\nHost: edge\r\n\r\n").await;
        let answer = wire.response(false).await;
        assert_eq!(answer.text(), "ok");
        assert!(
            answer.header("connection").is_none(),
            "{:?}",
            answer.headers
        );
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        3,
        "a closed upstream connection was reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http10_connections_close_unless_keep_alive_is_asked() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("http10");
    let server = gateway_to(&dir, upstream.address).await;
    let edge = server.listener("edge").unwrap();
    let mut plain = Wire::connect(edge).await;
    plain.send(b"GET /a HTTP/1.0\r\n\r\n").await;
    let answer = plain.response(false).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(plain.closes().await);
    let mut kept = Wire::connect(edge).await;
    for _ in 0..2 {
        kept.send(b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await;
        let answer = kept.response(false).await;
        assert_eq!(answer.text(), "pong");
        assert_eq!(answer.header("connection"), Some("keep-alive"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_half_closes_still_gets_its_answer() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("half-close");
    let server = gateway_to(&dir, upstream.address).await;
    let mut wire = Wire::connect(server.listener("edge").unwrap()).await;
    wire.send(b"POST /a HTTP/1.1\r\nHost: edge\r\nContent-Length: 2\r\n\r\nhi")
        .await;
    wire.stream.shutdown().await.unwrap();
    let answer = wire.response(false).await;
    assert_eq!(answer.json()["body"], "hi");
    assert!(wire.closes().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue_is_answered_before_the_body_and_not_when_refused() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("expect");
    let server = gateway_to(&dir, upstream.address).await;
    let edge = server.listener("edge").unwrap();
    let mut wire = Wire::connect(edge).await;
    wire.send(
        b"PUT /e HTTP/1.1\r\nHost: edge\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .await;
    let interim = wire.response(false).await;
    assert_eq!(interim.status, 100);
    wire.send(b"hello").await;
    let answer = wire.response(false).await;
    assert_eq!(answer.json()["body"], "hello");
    assert!(answer.json()["headers"].get("expect").is_none());
    // A request refused before its body is read gets no 100, and the connection closes (the
    // body the client may still send would otherwise be read as a request).
    let mut refused = Wire::connect(edge).await;
    refused.send(b"POST /limited HTTP/1.1\r\nHost: edge\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n").await;
    let answer = refused.response(false).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(refused.closes().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_heads_are_refused_and_the_connection_closed() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("malformed");
    let server = gateway_to(&dir, upstream.address).await;
    let edge = server.listener("edge").unwrap();
    let cases: [(&[u8], u16); 8] = [
        (
            b"GET / HTTP/1.1\r\nHost: edge\r\nX-A: a\r\n folded\r\n\r\n",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: edge\r\nContent-Length: +5\r\n\r\nhello",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: edge\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: gzip\r\n\r\n",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            501,
        ),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/3.0\r\nHost: edge\r\n\r\n", 505),
    ];
    for (request, status) in cases {
        let mut wire = Wire::connect(edge).await;
        wire.send(request).await;
        let answer = wire.response(false).await;
        assert_eq!(
            answer.status,
            status,
            "{}",
            String::from_utf8_lossy(request)
        );
        assert_eq!(answer.header("connection"), Some("close"));
        assert!(wire.closes().await);
    }
    assert_eq!(upstream.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_chunked_body_ends_the_exchange_with_400() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("bad-chunks");
    let server = gateway_to(&dir, upstream.address).await;
    let mut wire = Wire::connect(server.listener("edge").unwrap()).await;
    wire.send(b"POST /a HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n").await;
    let answer = wire.response(false).await;
    assert_eq!(answer.status, 400);
    assert!(wire.closes().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_route_limit_is_cut_off_with_413() {
    let upstream = Upstream::start("crew", Behaviour::Answer).await;
    let dir = Scratch::new("chunked-limit");
    let server = gateway_to(&dir, upstream.address).await;
    let edge = server.listener("edge").unwrap();
    let mut within = Wire::connect(edge).await;
    within.send(b"POST /limited HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n").await;
    let answer = within.response(false).await;
    assert_eq!(answer.json()["body"], "0123456789");
    let mut over = Wire::connect(edge).await;
    // Both chunks in one write, so meshd sees the body outgrow the limit before it has anything
    // to send upstream (a body that outgrows it later is cut off mid-stream instead).
    over.send(b"POST /limited HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\na\r\n0123456789\r\n").await;
    let answer = over.response(false).await;
    assert_eq!(answer.status, 413);
    assert!(answer
        .header("x-meshwork-denied-by")
        .is_some_and(|by| by.contains("step=body_limit")));
    assert!(over.closes().await);
    assert_eq!(
        upstream.requests(),
        1,
        "the cut-off body reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_stream_to_the_upstream_before_the_client_finishes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let (first_half, got_first_half) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        while !seen.windows(5).any(|w| w == b"first") {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            seen.extend_from_slice(&chunk[..n]);
        }
        let _ = first_half.send(());
        while !seen.windows(6).any(|w| w == b"second") {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            seen.extend_from_slice(&chunk[..n]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nreceived")
            .await
            .unwrap();
    });
    let dir = Scratch::new("stream-up");
    let server = gateway_to(&dir, upstream).await;
    let mut wire = Wire::connect(server.listener("edge").unwrap()).await;
    wire.send(b"POST /up HTTP/1.1\r\nHost: edge\r\nContent-Length: 11\r\n\r\nfirst")
        .await;
    tokio::time::timeout(Duration::from_secs(10), got_first_half)
        .await
        .expect("the first half never reached the upstream")
        .unwrap();
    wire.send(b"second").await;
    assert_eq!(wire.response(false).await.text(), "received");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_bodies_stream_to_the_client_before_the_upstream_finishes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let (client_saw_first, first_seen) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.unwrap();
            seen.extend_from_slice(&chunk[..n]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            .await
            .unwrap();
        first_seen.await.unwrap();
        stream.write_all(b"6\r\nsecond\r\n0\r\n\r\n").await.unwrap();
    });
    let dir = Scratch::new("stream-down");
    let server = gateway_to(&dir, upstream).await;
    let mut wire = Wire::connect(server.listener("edge").unwrap()).await;
    wire.send(b"GET /down HTTP/1.1\r\nHost: edge\r\n\r\n").await;
    wire.read_until(b"first").await;
    client_saw_first.send(()).unwrap();
    wire.read_until(b"0\r\n\r\n").await;
    let text = String::from_utf8_lossy(&wire.buffer).into_owned();
    assert!(text.contains("second"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_holds_the_upstream_back() {
    const TOTAL: u64 = 256 * 1024 * 1024;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let blocked = Arc::new(AtomicBool::new(false));
    let (w, b) = (Arc::clone(&written), Arc::clone(&blocked));
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.unwrap();
            seen.extend_from_slice(&chunk[..n]);
        }
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {TOTAL}\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let block = vec![b'x'; 64 * 1024];
        while w.load(Ordering::SeqCst) < TOTAL {
            match stream.try_write(&block) {
                Ok(n) => {
                    w.fetch_add(n as u64, Ordering::SeqCst);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    b.store(true, Ordering::SeqCst);
                    if stream.writable().await.is_err() {
                        return;
                    }
                    b.store(false, Ordering::SeqCst);
                }
                Err(_) => return,
            }
        }
    });
    let dir = Scratch::new("backpressure");
    let server = gateway_to(&dir, upstream).await;
    let mut wire = Wire::connect(server.listener("edge").unwrap()).await;
    wire.send(b"GET /big HTTP/1.1\r\nHost: edge\r\n\r\n").await;
    // The upstream stays blocked once the socket buffers between it and the client are full.
    let mut last = u64::MAX;
    eventually("the upstream to stay blocked", async || {
        let now = written.load(Ordering::SeqCst);
        let settled = blocked.load(Ordering::SeqCst) && now == last;
        last = now;
        settled
    })
    .await;
    let held_back = written.load(Ordering::SeqCst);
    assert!(
        held_back < TOTAL / 4,
        "meshd read {held_back} bytes ahead of the client"
    );
    // Once the client reads, everything arrives.
    let mut received = wire.buffer.len() as u64;
    let mut chunk = vec![0u8; 256 * 1024];
    while received < TOTAL {
        let n = wire.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed after {received} bytes");
        received += n as u64;
    }
    assert!(received >= TOTAL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let dir = Scratch::new("idle");
    let file = dir.path("main.mesh");
    std::fs::write(
        &file,
        "gateway edge { listen \"127.0.0.1:0\" route a { match GET \"/\" public respond 200 \"x\" } }",
    )
    .unwrap();
    let mut options = test_options(vec![file]);
    options.idle_timeout = Duration::from_millis(300);
    let server = start_with(options).await;
    let edge = server.listener("edge").unwrap();
    let mut wire = Wire::connect(edge).await;
    wire.send(b"GET / HTTP/1.1\r\nHost: edge\r\n\r\n").await;
    assert_eq!(wire.response(false).await.text(), "x");
    let idle_since = std::time::Instant::now();
    assert!(wire.closes().await);
    assert!(idle_since.elapsed() >= Duration::from_millis(250));
    // HTTP/2: the connection is closed gracefully (GOAWAY) once no stream is open.
    let tcp = TcpStream::connect(edge).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    let driven = tokio::spawn(connection);
    let response = sender
        .send_request(
            http::Request::get(format!("http://{edge}/"))
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    drop(response);
    tokio::time::timeout(Duration::from_secs(10), driven)
        .await
        .expect("the idle HTTP/2 connection was left open")
        .unwrap()
        .unwrap();
}
