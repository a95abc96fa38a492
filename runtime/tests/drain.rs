//! Stopping meshd without dropping a request, on the real binary over real sockets: SIGTERM
//! drains (readiness 503 at once, listeners open for the drain delay, `Connection: close` and
//! GOAWAY, requests in flight answered), the drain timeout cuts and says so, a second signal
//! ends at once.

mod drain_support;
mod scratch;
mod support;

use std::time::Duration;

use drain_support::*;
use support::{Behaviour, Scratch, Upstream};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

fn program(upstream: std::net::SocketAddr) -> String {
    format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route ping {{ match GET "/ping" public respond 200 "pong" }}
  route slow {{ match GET "/slow" public forward slow }}
}}
service slow {{ endpoints ["{upstream}"] timeout 60s }}
"#
    )
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_every_request_in_flight_then_exits_0_within_the_timeout() {
    let upstream = Upstream::start("slow", Behaviour::Slow(1000)).await;
    let dir = Scratch::new("drain-sigterm");
    let source = write_program(dir.dir(), &program(upstream.address));
    let mut meshd = Meshd::start_async(
        &meshd_binary(),
        &source,
        &[
            "--admin",
            "127.0.0.1:0",
            "--drain-delay",
            "1s",
            "--drain-timeout",
            "10s",
        ],
    );
    let load = LoadClient::start(meshd.gateway, "/ping", 8, true);
    load.wait_for_more(100).await;
    let slow: Vec<_> = (0..20)
        .map(|_| tokio::spawn(get_once(meshd.gateway, "/slow")))
        .collect();
    let deadline = std::time::Instant::now() + PATIENCE;
    while upstream.requests() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow requests never arrived"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    meshd.signal(libc::SIGTERM);
    wait_for_status(meshd.admin, "/readyz", 503).await;
    let metrics = get_once(meshd.admin, "/metrics").await.unwrap().body;
    assert_eq!(metric(&metrics, "meshd_draining "), Some(1.0), "{metrics}");
    assert!(
        metric(&metrics, "meshd_connections_open{side=\"inbound\"}")
            .is_some_and(|open| open >= 1.0),
        "{metrics}"
    );
    let (status, after_signal) = meshd.wait_exit().await;

    for answer in slow {
        let reply = answer.await.unwrap().expect("a request in flight was cut");
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    assert_eq!(status.code(), Some(0), "{}", meshd.log());
    assert!(
        after_signal < Duration::from_secs(10),
        "exited after {after_signal:?}"
    );
    let tally = load.finish().await;
    assert_eq!(tally.non_2xx, 0, "{tally:?}");
    assert_eq!(
        (tally.read_errors, tally.write_errors, tally.connect_errors),
        (0, 0, 0),
        "requests sent during the drain went unanswered: {tally:?}"
    );
    assert!(
        tally.closed_by_server > 0,
        "no response said Connection: close: {tally:?}"
    );
    assert!(
        meshd.log().contains("drained: every request was answered"),
        "{}",
        meshd.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_close_with_the_listener_while_busy_ones_finish() {
    let upstream = GatedUpstream::start().await;
    let dir = Scratch::new("drain-idle");
    let source = write_program(dir.dir(), &program(upstream.address));
    let mut meshd = Meshd::start_async(
        &meshd_binary(),
        &source,
        &[
            "--admin",
            "127.0.0.1:0",
            "--drain-delay",
            "200ms",
            "--drain-timeout",
            "20s",
        ],
    );
    let mut idle = TcpStream::connect(meshd.gateway).await.unwrap();
    let first = exchange(&mut idle, b"GET /ping HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    assert!(!first.close, "{first:?}");
    let mut busy = TcpStream::connect(meshd.gateway).await.unwrap();
    let slow = tokio::spawn(async move {
        let reply = exchange(&mut busy, b"GET /slow HTTP/1.1\r\nhost: a\r\n\r\n").await;
        (reply, busy)
    });
    upstream.wait_received(1).await;

    meshd.signal(libc::SIGTERM);
    // The idle connection ends with a FIN (not a reset) when the listener closes...
    let mut rest = Vec::new();
    let read = tokio::time::timeout(PATIENCE, idle.read_to_end(&mut rest))
        .await
        .unwrap();
    assert!(read.is_ok() && rest.is_empty(), "{read:?} {rest:?}");
    // ... while meshd still serves the busy one, which gets its answer and then the close.
    assert!(meshd.is_running());
    assert_eq!(get_once(meshd.admin, "/readyz").await.unwrap().status, 503);
    upstream.open();
    let (reply, mut busy) = slow.await.unwrap();
    let reply = reply.unwrap();
    assert_eq!((reply.status, reply.close), (200, true), "{reply:?}");
    let mut rest = Vec::new();
    assert_eq!(busy.read_to_end(&mut rest).await.unwrap(), 0);
    let (status, _) = meshd.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{}", meshd.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_connections_get_goaway_and_finish_their_streams() {
    let upstream = GatedUpstream::start().await;
    let dir = Scratch::new("drain-h2");
    let source = write_program(dir.dir(), &program(upstream.address));
    let mut meshd = Meshd::start_async(
        &meshd_binary(),
        &source,
        &[
            "--admin",
            "127.0.0.1:0",
            "--drain-delay",
            "200ms",
            "--drain-timeout",
            "20s",
        ],
    );
    let stream = TcpStream::connect(meshd.gateway).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let connection = tokio::spawn(connection);
    let request = |path: &str| {
        http::Request::get(format!("http://drain.test{path}"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap()
    };
    let ping = sender.send_request(request("/ping")).await.unwrap();
    assert_eq!(ping.status(), 200);
    let slow = tokio::spawn(sender.send_request(request("/slow")));
    upstream.wait_received(1).await;

    meshd.signal(libc::SIGTERM);
    // GOAWAY arrives: new streams on the connection are refused...
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        match sender.send_request(request("/ping")).await {
            Ok(response) => assert_eq!(response.status(), 200),
            Err(_) => break,
        }
        assert!(std::time::Instant::now() < deadline, "no GOAWAY");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(meshd.is_running());

    // ... and the stream it carried is answered before the connection ends.
    upstream.open();
    let slow = slow.await.unwrap().expect("the stream in flight was cut");
    assert_eq!(slow.status(), 200);
    tokio::time::timeout(PATIENCE, connection)
        .await
        .expect("the connection stayed open")
        .unwrap()
        .expect("the connection ended in an error, not a graceful close");
    let (status, _) = meshd.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{}", meshd.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_timeout_shorter_than_a_request_exits_3_and_logs_what_it_cut() {
    let upstream = GatedUpstream::start().await;
    let dir = Scratch::new("drain-timeout");
    let source = write_program(dir.dir(), &program(upstream.address));
    let mut meshd = Meshd::start_async(
        &meshd_binary(),
        &source,
        &[
            "--admin",
            "127.0.0.1:0",
            "--drain-delay",
            "0s",
            "--drain-timeout",
            "1s",
        ],
    );
    let slow = tokio::spawn(get_once(meshd.gateway, "/slow"));
    upstream.wait_received(1).await;

    meshd.signal(libc::SIGTERM);
    let (status, after_signal) = meshd.wait_exit().await;
    assert_eq!(status.code(), Some(3), "{}", meshd.log());
    assert!(after_signal < Duration::from_secs(10), "{after_signal:?}");
    let log = meshd.log();
    assert!(
        log.contains("drain timed out: 1 requests in flight and 1 connections cut"),
        "{log}"
    );
    assert!(matches!(slow.await.unwrap(), Err(Failure::Read(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_at_once() {
    let upstream = GatedUpstream::start().await;
    let dir = Scratch::new("drain-twice");
    let source = write_program(dir.dir(), &program(upstream.address));
    let mut meshd = Meshd::start_async(
        &meshd_binary(),
        &source,
        &[
            "--admin",
            "127.0.0.1:0",
            "--drain-delay",
            "60s",
            "--drain-timeout",
            "120s",
        ],
    );
    let _slow = tokio::spawn(get_once(meshd.gateway, "/slow"));
    upstream.wait_received(1).await;

    meshd.signal(libc::SIGTERM);
    wait_for_status(meshd.admin, "/readyz", 503).await;
    meshd.signal(libc::SIGQUIT);
    let (status, _) = meshd.wait_exit().await;
    assert_eq!(status.code(), Some(3), "{}", meshd.log());
    let log = meshd.log();
    assert!(log.contains("second signal: stopping now"), "{log}");
    assert!(
        log.contains("drain ended by a second signal: 1 requests in flight and 1 connections cut"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_closes_the_listeners_without_the_delay_and_still_answers_what_is_in_flight() {
    let upstream = GatedUpstream::start().await;
    let dir = Scratch::new("drain-sigint");
    let source = write_program(dir.dir(), &program(upstream.address));
    let mut meshd = Meshd::start_async(
        &meshd_binary(),
        &source,
        &[
            "--admin",
            "127.0.0.1:0",
            "--drain-delay",
            "60s",
            "--drain-timeout",
            "120s",
        ],
    );
    let slow = tokio::spawn(get_once(meshd.gateway, "/slow"));
    upstream.wait_received(1).await;

    meshd.signal(libc::SIGINT);
    meshd.wait_for_log_async("drain delay over: listeners closed");
    // Each worker closes its socket as it sees the phase change.
    let deadline = std::time::Instant::now() + PATIENCE;
    while TcpStream::connect(meshd.gateway).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the listener still accepts"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(meshd.is_running());
    upstream.open();
    assert_eq!(slow.await.unwrap().unwrap().status, 200);
    let (status, _) = meshd.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{}", meshd.log());
}

#[test]
fn a_drain_delay_not_shorter_than_the_timeout_is_refused() {
    let output = std::process::Command::new(meshd_binary())
        .args([
            "run",
            "x.mesh",
            "--drain-delay",
            "30s",
            "--drain-timeout",
            "30s",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--drain-delay (30s) must be shorter than --drain-timeout (30s)"),
        "{stderr}"
    );
}
