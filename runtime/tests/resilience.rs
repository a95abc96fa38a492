//! Failure handling over real sockets: retries, timeouts, connect failures, outlier ejection and
//! active health checks.

mod scratch;
mod support;

use support::*;

/// A loopback port nothing listens on, held (bound, never listening) for as long as the
/// returned socket lives, so that no server another test starts meanwhile can take it: a
/// connect to it is refused.
fn closed_port() -> (std::net::SocketAddr, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    (socket.local_addr().unwrap(), socket)
}

fn gateway(service: &str) -> String {
    format!("gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward {service} }} }}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_on_the_first_endpoint_is_retried_on_the_second() {
    let broken = Upstream::start("broken", Behaviour::Reset).await;
    let good = Upstream::start("good", Behaviour::Answer).await;
    let dir = Scratch::new("retry-reset");
    let source = format!(
        "{}service crew {{ endpoints [\"{}\", \"{}\"] balance round_robin retry 1 on [reset] backoff 1ms..2ms }}",
        gateway("crew"),
        broken.address,
        good.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    for _ in 0..6 {
        let answer = get(edge, "/", &[]).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.json()["upstream"], "good");
    }
    assert!(broken.hits.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_without_a_retry_is_a_502_with_a_reason() {
    let broken = Upstream::start("broken", Behaviour::Reset).await;
    let dir = Scratch::new("reset-502");
    let source = format!(
        "{}service crew {{ endpoints [\"{}\"] }}",
        gateway("crew"),
        broken.address
    );
    let server = start_mesh(&dir, &source).await;
    let answer = get(server.listener("edge").unwrap(), "/", &[]).await;
    assert_eq!(answer.status, 502);
    let reason = answer.json()["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("closed the connection"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_not_repeated_after_it_was_sent() {
    let broken = Upstream::start("broken", Behaviour::Reset).await;
    let good = Upstream::start("good", Behaviour::Answer).await;
    let dir = Scratch::new("post-once");
    let source = format!(
        "{}service crew {{ endpoints [\"{}\", \"{}\"] balance round_robin retry 3 on [reset] backoff 1ms..2ms }}",
        gateway("crew"),
        broken.address,
        good.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let request = http::Request::post(format!("http://{edge}/"))
            .body(http_body_util::Full::new(bytes::Bytes::from("launch")))
            .unwrap();
        statuses.push(send(&client(), request).await.status.as_u16());
    }
    // Round robin alternates: the POSTs that reached the broken endpoint fail instead of being replayed.
    assert!(statuses.contains(&502), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_failures_are_retried_and_exhausted_retries_give_502() {
    let good = Upstream::start("good", Behaviour::Answer).await;
    let (dead, _held) = closed_port();
    let dir = Scratch::new("connect");
    let source = format!(
        "{}service crew {{ endpoints [\"{dead}\", \"{}\"] balance round_robin retry 2 on [connect_failure] backoff 1ms..2ms }}\nservice gone {{ endpoints [\"{dead}\"] retry 2 on [connect_failure] backoff 1ms..2ms }}",
        gateway("crew"),
        good.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    for _ in 0..4 {
        assert_eq!(get(edge, "/", &[]).await.json()["upstream"], "good");
    }
    let dir2 = Scratch::new("connect-dead");
    let only_dead = format!(
        "{}service gone {{ endpoints [\"{dead}\"] retry 2 on [connect_failure] backoff 1ms..2ms }}",
        gateway("gone")
    );
    let server2 = start_mesh(&dir2, &only_dead).await;
    let answer = get(server2.listener("edge").unwrap(), "/", &[]).await;
    assert_eq!(answer.status, 502);
    assert!(
        answer.json()["reason"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_status_is_retried_for_a_get() {
    let failing = Upstream::start("failing", Behaviour::Status(503)).await;
    let good = Upstream::start("good", Behaviour::Answer).await;
    let dir = Scratch::new("status-retry");
    let source = format!(
        "{}service crew {{ endpoints [\"{}\", \"{}\"] balance round_robin retry 1 on [503] backoff 1ms..2ms }}",
        gateway("crew"),
        failing.address,
        good.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    for _ in 0..4 {
        assert_eq!(get(edge, "/", &[]).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_gets_a_504_after_the_route_timeout() {
    let slow = Upstream::start("slow", Behaviour::Slow(2_000)).await;
    let dir = Scratch::new("timeout");
    let source = format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward crew timeout 100ms }} }}\nservice crew {{ endpoints [\"{}\"] timeout 10s }}",
        slow.address
    );
    let server = start_mesh(&dir, &source).await;
    let started = std::time::Instant::now();
    let answer = get(server.listener("edge").unwrap(), "/", &[]).await;
    assert_eq!(answer.status, 504);
    assert!(
        answer.json()["reason"].as_str().unwrap().contains("100ms"),
        "{}",
        answer.body
    );
    assert!(started.elapsed() < std::time::Duration::from_millis(1_500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_errors_eject_an_endpoint_from_balancing() {
    let failing = Upstream::start("failing", Behaviour::Status(500)).await;
    let good = Upstream::start("good", Behaviour::Answer).await;
    let dir = Scratch::new("breaker");
    let source = format!(
        "{}service crew {{ endpoints [\"{}\", \"{}\"] balance round_robin circuit_breaker {{ consecutive_errors 3 eject 30s max_ejected 50% }} }}",
        gateway("crew"),
        failing.address,
        good.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let mut failures = 0;
    for _ in 0..40 {
        if get(edge, "/", &[]).await.status == 500 {
            failures += 1;
        }
    }
    assert_eq!(
        failures, 3,
        "the failing endpoint answered {failures} times"
    );
    assert_eq!(failing.requests(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_ejected_keeps_the_last_endpoint_in() {
    let failing = Upstream::start("failing", Behaviour::Status(500)).await;
    let dir = Scratch::new("breaker-max");
    let source = format!(
        "{}service crew {{ endpoints [\"{}\"] circuit_breaker {{ consecutive_errors 1 eject 30s max_ejected 50% }} }}",
        gateway("crew"),
        failing.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    for _ in 0..5 {
        assert_eq!(get(edge, "/", &[]).await.status, 500);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_take_a_failing_endpoint_out_and_bring_it_back() {
    let flaky = Upstream::start("flaky", Behaviour::Answer).await;
    let steady = Upstream::start("steady", Behaviour::Answer).await;
    let dir = Scratch::new("health");
    let source = format!(
        "{}service crew {{ endpoints [\"{}\", \"{}\"] balance round_robin health_check GET \"/healthz\" every 50ms timeout 40ms healthy 1 unhealthy 1 }}",
        gateway("crew"),
        flaky.address,
        steady.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    eventually("health checks reach both endpoints", async || {
        flaky.health_hits.load(std::sync::atomic::Ordering::SeqCst) > 0
    })
    .await;
    flaky.set_healthy(false);
    let checks = flaky.health_hits.load(std::sync::atomic::Ordering::SeqCst);
    eventually("a failed check is seen", async || {
        flaky.health_hits.load(std::sync::atomic::Ordering::SeqCst) >= checks + 2
    })
    .await;
    let before = flaky.requests();
    for _ in 0..20 {
        assert_eq!(get(edge, "/", &[]).await.json()["upstream"], "steady");
    }
    assert_eq!(flaky.requests(), before);
    flaky.set_healthy(true);
    eventually("the endpoint comes back", async || {
        get(edge, "/", &[]).await.json()["upstream"] == "flaky"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_unhealthy_service_answers_503() {
    let sick = Upstream::start("sick", Behaviour::Answer).await;
    sick.set_healthy(false);
    let dir = Scratch::new("all-sick");
    let source = format!(
        "{}service crew {{ endpoints [\"{}\"] health_check GET \"/healthz\" every 50ms timeout 40ms healthy 1 unhealthy 1 }}",
        gateway("crew"),
        sick.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    eventually("the endpoint is marked unhealthy", async || {
        get(edge, "/", &[]).await.status == 503
    })
    .await;
    let answer = get(edge, "/", &[]).await;
    assert!(answer.json()["reason"]
        .as_str()
        .unwrap()
        .contains("no available endpoint"));
}

/// POSTs `path` with an empty body and answers the status.
async fn post(edge: std::net::SocketAddr, path: &str) -> u16 {
    let request = http::Request::post(format!("http://{edge}{path}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    send(&client(), request).await.status.as_u16()
}

/// A POST that reached the upstream is not repeated on a 503 (it could duplicate the side
/// effect) unless its route says `idempotent`; a POST whose connection never opened reached
/// nobody and is tried on the next endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_retried_only_when_it_never_left_unless_the_route_is_idempotent() {
    let failing = Upstream::start("failing", Behaviour::Status(503)).await;
    let good = Upstream::start("good", Behaviour::Answer).await;
    let (dead, _held) = closed_port();
    let dir = Scratch::new("post-retry");
    let source = format!(
        r#"gateway edge {{
  listen "127.0.0.1:0"
  route orders {{ match POST "/orders" public forward flaky }}
  route runs {{ match POST "/runs" public idempotent forward flaky }}
  route launch {{ match POST "/launch" public forward far }}
}}
service flaky {{ endpoints ["{}", "{}"] balance round_robin retry 1 on [503] backoff 1ms..2ms }}
service far {{ endpoints ["{dead}", "{}"] balance round_robin retry 1 on [connect_failure] backoff 1ms..2ms }}
"#,
        failing.address, good.address, good.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let statuses: Vec<u16> = [post(edge, "/orders").await, post(edge, "/orders").await].into();
    assert!(
        statuses.contains(&503),
        "one POST met the failing endpoint and stayed a 503: {statuses:?}"
    );
    for _ in 0..4 {
        assert_eq!(
            post(edge, "/runs").await,
            200,
            "an idempotent route's POST is retried"
        );
        assert_eq!(
            post(edge, "/launch").await,
            200,
            "a POST that never left is retried"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_max_requests_are_answered_503_at_once() {
    let slow = Upstream::start("slow", Behaviour::Slow(5_000)).await;
    let dir = Scratch::new("max-requests");
    let source = format!(
        "{}service crew {{ endpoints [\"{}\"] circuit_breaker {{ max_requests 2 }} }}",
        gateway("crew"),
        slow.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    let held: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { get(edge, "/held", &[]).await }))
        .collect();
    eventually("both requests reach the upstream", async || {
        slow.requests() == 2
    })
    .await;
    let answer = get(edge, "/third", &[]).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    let reason = answer.json()["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("max_requests (2)"), "{reason}");
    assert!(
        held.iter().all(|request| !request.is_finished()),
        "answered while the two were held, not after"
    );
    assert_eq!(slow.requests(), 2, "the third never reached the upstream");
    let metrics = admin_get(&server, "/metrics").await.body;
    assert!(
        metrics.contains("meshd_max_requests_refused_total{service=\"crew\"} 1"),
        "{metrics}"
    );
    for request in held {
        assert_eq!(request.await.unwrap().status, 200);
    }
    slow.set_behaviour(Behaviour::Answer);
    assert_eq!(get(edge, "/after", &[]).await.status, 200, "room again");
}
