//! The route's `timeout` is the whole request's deadline, across retries (Envoy's semantics): the
//! service's `timeout` bounds each try, a retry that cannot start before the deadline is not
//! made, and a produce route answers 503 within it when the broker does not acknowledge. Elapsed
//! times are checked against generous bounds (timeouts never fire early, so lower bounds are
//! exact; upper bounds leave room for a loaded machine); attempt counts are exact.

mod scratch;
mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use meshd::stream::BrokerFault;
use support::*;

fn program(upstream: &Upstream, route_timeout: &str, service: &str) -> String {
    format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route slow {{ match GET "/slow" public {route_timeout} forward crew }}
}}
service crew {{ endpoints ["{}"] {service} }}
"#,
        upstream.address
    )
}

/// `GET /slow`: the answer and how long it took.
async fn timed_get(server: &meshd::RunningServer) -> (Answer, Duration) {
    let started = Instant::now();
    let answer = get(server.listener("edge").unwrap(), "/slow", &[]).await;
    (answer, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_try_waits_the_service_timeout_not_the_route_timeout() {
    // The issue's case: each try used to wait the route's 3 s, and the 504 came after 9 s.
    let upstream = Upstream::start("crew", Behaviour::Slow(10_000)).await;
    let dir = Scratch::new("deadline-per-try");
    let source = program(
        &upstream,
        "timeout 3s",
        "timeout 400ms retry 2 on [timeout] backoff 25ms..50ms",
    );
    let server = start_mesh(&dir, &source).await;
    let (answer, elapsed) = timed_get(&server).await;
    assert_eq!(answer.status, 504, "{}", answer.body);
    assert!(answer.body.contains("within 400ms"), "{}", answer.body);
    assert_eq!(upstream.requests(), 3, "one try and two retries");
    assert!(elapsed >= Duration::from_millis(1_200), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(3),
        "{elapsed:?}: the route's 3 s bound all three tries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_timeout_cuts_the_last_try_and_no_retry_starts_after_it() {
    // Tries at 0 ms, ~620 ms and ~1240 ms; the third is cut at 1500 ms; five retries allowed.
    let upstream = Upstream::start("crew", Behaviour::Slow(10_000)).await;
    let dir = Scratch::new("deadline-cut");
    let source = program(
        &upstream,
        "timeout 1500ms",
        "timeout 600ms retry 5 on [timeout] backoff 20ms..20ms",
    );
    let server = start_mesh(&dir, &source).await;
    let (answer, elapsed) = timed_get(&server).await;
    assert_eq!(answer.status, 504, "{}", answer.body);
    assert!(
        answer.body.contains("the route's timeout of 1500ms"),
        "{}",
        answer.body
    );
    assert_eq!(upstream.requests(), 3);
    assert!(elapsed >= Duration::from_millis(1_500), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(3_000), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_whose_backoff_ends_past_the_deadline_is_not_made() {
    // The first try times out at 900 ms; any backoff (100–200 ms) would end at or past 1000 ms.
    let upstream = Upstream::start("crew", Behaviour::Slow(10_000)).await;
    let dir = Scratch::new("deadline-no-retry");
    let source = program(
        &upstream,
        "timeout 1s",
        "timeout 900ms retry 3 on [timeout] backoff 200ms..200ms",
    );
    let server = start_mesh(&dir, &source).await;
    let (answer, elapsed) = timed_get(&server).await;
    assert_eq!(answer.status, 504, "{}", answer.body);
    assert_eq!(upstream.requests(), 1);
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(3_000), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_status_is_answered_as_is_when_no_retry_fits() {
    // 503 after 700 ms, retried after a 300–600 ms backoff: under a 1 s deadline no retry fits
    // and the upstream's own 503 is the answer; under 5 s the retry is made.
    let upstream = Upstream::start("crew", Behaviour::SlowStatus(700, 503)).await;
    let dir = Scratch::new("deadline-status");
    let source = format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  route tight {{ match GET "/slow" public timeout 1s forward crew }}
  route roomy {{ match GET "/roomy" public timeout 5s forward crew }}
}}
service crew {{ endpoints ["{}"] retry 1 on [503] backoff 600ms..600ms }}
"#,
        upstream.address
    );
    let server = start_mesh(&dir, &source).await;
    let (answer, elapsed) = timed_get(&server).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.header("x-upstream"), Some("crew"));
    assert_eq!(upstream.requests(), 1);
    assert!(elapsed >= Duration::from_millis(700), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let answer = get(server.listener("edge").unwrap(), "/roomy", &[]).await;
    assert_eq!(answer.status, 503);
    assert_eq!(upstream.requests(), 3, "the roomy route retried once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produce_route_answers_503_within_its_timeout_when_the_broker_is_down() {
    let dir = Scratch::new("deadline-produce");
    let source = r#"
gateway edge {
  listen "127.0.0.1:0"
  route log { match POST "/log" public timeout 1s produce topic "captains-log" acks all mode sync }
}
topic "captains-log"
"#;
    let server = start_mesh(&dir, source).await;
    let edge = server.listener("edge").unwrap();
    let post = |body: &'static str| {
        let request = http::Request::post(format!("http://{edge}/log"))
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        async move {
            let started = Instant::now();
            let answer = send(&client(), request).await;
            (answer, started.elapsed())
        }
    };
    let (before, _) = post("before").await;
    assert_eq!(before.status, 200, "{}", before.body);
    server
        .kafka()
        .with_embedded_broker(|broker| broker.inject(BrokerFault::AllBrokersDown))
        .unwrap()
        .unwrap();
    // The producer's own delivery timeout is 5 s (and fires late): the route's 1 s holds.
    let (during, elapsed) = post("during").await;
    assert_eq!(during.status, 503, "{}", during.body);
    assert!(during.body.contains("within 1s"), "{}", during.body);
    assert!(during.header("retry-after").is_some());
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    server.shutdown();
}
