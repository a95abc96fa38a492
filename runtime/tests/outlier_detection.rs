//! Interval outlier detection over real sockets (Envoy's failure-percentage and success-rate
//! detectors, and the latency detector): an endpoint failing most of its requests, far more than
//! its peers, or answering far slower than them, is taken out of balancing (while the
//! consecutive-errors detector, set high, never fires) and comes back once its ejection has
//! passed and it answers again. `meshd_outlier_ejections_total` and
//! `meshd_outlier_ejected_endpoints` follow.

mod scratch;
mod support;

use std::net::SocketAddr;

use support::*;

async fn batch(edge: SocketAddr, n: usize) {
    let client = client();
    for _ in 0..n {
        let request = http::Request::get(format!("http://{edge}/"))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        send(&client, request).await;
    }
}

fn program(endpoints: &[&Upstream], breaker: &str) -> String {
    let list: Vec<String> = endpoints
        .iter()
        .map(|u| format!("\"{}\"", u.address))
        .collect();
    format!(
        "gateway edge {{ listen \"127.0.0.1:0\" route all {{ match * prefix \"/\" public forward crew }} }}\nservice crew {{\n  endpoints [{}]\n  balance round_robin\n  circuit_breaker {{ consecutive_errors 1000  eject 2s  max_ejected 50%  {breaker}  interval 100ms }}\n}}\n",
        list.join(", ")
    )
}

/// Sends batches until one passes without reaching `bad`: it is out of balancing.
async fn until_ejected(edge: SocketAddr, bad: &Upstream, batch_size: usize) {
    eventually("the failing endpoint is ejected", async || {
        let before = bad.requests();
        batch(edge, batch_size).await;
        bad.requests() == before
    })
    .await;
}

/// Sends batches until `endpoint` serves again.
async fn until_back(edge: SocketAddr, endpoint: &Upstream, batch_size: usize) {
    eventually("the endpoint is back in balancing", async || {
        let before = endpoint.requests();
        batch(edge, batch_size).await;
        endpoint.requests() > before
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_percentage_ejects_a_mostly_failing_endpoint_and_it_comes_back() {
    let good = Upstream::start("good", Behaviour::Answer).await;
    let other = Upstream::start("other", Behaviour::Answer).await;
    let bad = Upstream::start("bad", Behaviour::Status(503)).await;
    let dir = Scratch::new("outlier-failure-percentage");
    let source = program(
        &[&good, &other, &bad],
        "failure_percentage 50% min_requests 3",
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();

    until_ejected(edge, &bad, 6).await;
    let metrics = admin_get(&server, "/metrics").await.body;
    assert!(
        sample(
            &metrics,
            &[
                "meshd_outlier_ejections_total{",
                "detector=\"failure_percentage\""
            ]
        ) >= Some(1.0),
        "{metrics}"
    );
    // Out: every answer now comes from the healthy endpoints.
    for _ in 0..6 {
        let answer = get(edge, "/", &[]).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    bad.set_behaviour(Behaviour::Answer);
    until_back(edge, &bad, 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_rate_ejects_the_endpoint_far_below_its_peers() {
    let mut upstreams = Vec::new();
    for name in ["a", "b", "c", "d"] {
        upstreams.push(Upstream::start(name, Behaviour::Answer).await);
    }
    upstreams.push(Upstream::start("bad", Behaviour::Status(503)).await);
    let refs: Vec<&Upstream> = upstreams.iter().collect();
    let dir = Scratch::new("outlier-success-rate");
    let server = start_mesh(&dir, &program(&refs, "success_rate min_requests 3")).await;
    let edge = server.listener("edge").unwrap();
    let bad = &upstreams[4];

    until_ejected(edge, bad, 10).await;
    for _ in 0..8 {
        assert_eq!(get(edge, "/", &[]).await.status, 200);
    }
    bad.set_behaviour(Behaviour::Answer);
    until_back(edge, bad, 10).await;
}

/// The value of the sample line of the metrics text that contains every one of `parts`.
fn sample(metrics: &str, parts: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| parts.iter().all(|p| l.contains(p)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_ejects_an_endpoint_far_slower_than_its_peers_and_it_comes_back() {
    let fast = Upstream::start("fast", Behaviour::Answer).await;
    let other = Upstream::start("other", Behaviour::Answer).await;
    let slow = Upstream::start("slow", Behaviour::Answer).await;
    let dir = Scratch::new("outlier-latency");
    // An interval long enough for the slow endpoint to answer `min_requests` within it.
    let source = program(
        &[&fast, &other, &slow],
        "latency 3x min_requests 2 min_latency 40ms",
    )
    .replace("interval 100ms", "interval 1s");
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();

    // While all answer at once, nobody is ejected.
    batch(edge, 30).await;
    let metrics = admin_get(&server, "/metrics").await.body;
    assert_eq!(
        sample(
            &metrics,
            &["meshd_outlier_ejected_endpoints{", "service=\"crew\""]
        ),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            &["meshd_outlier_ejections_total{", "detector=\"latency\""]
        ),
        Some(0.0),
        "{metrics}"
    );

    // The slow endpoint answers every request, 200 after 200 ms: only the latency detector can
    // tell, and it takes the endpoint out.
    slow.set_behaviour(Behaviour::Slow(200));
    until_ejected(edge, &slow, 6).await;
    let metrics = admin_get(&server, "/metrics").await.body;
    assert_eq!(
        sample(
            &metrics,
            &["meshd_outlier_ejections_total{", "detector=\"latency\""]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            &["meshd_outlier_ejected_endpoints{", "service=\"crew\""]
        ),
        Some(1.0),
        "{metrics}"
    );
    // No other detector fired: the errors detector is set high, the others are not configured.
    assert!(
        !metrics.contains("detector=\"failure_percentage\"")
            && sample(&metrics, &["detector=\"consecutive_errors\""]) == Some(0.0),
        "{metrics}"
    );
    for _ in 0..6 {
        assert_eq!(get(edge, "/", &[]).await.status, 200);
    }

    slow.set_behaviour(Behaviour::Answer);
    until_back(edge, &slow, 6).await;
}
