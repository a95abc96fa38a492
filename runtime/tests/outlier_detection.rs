//! Interval outlier detection over real sockets (Envoy's failure-percentage and success-rate
//! detectors): an endpoint failing most of its requests, or far more than its peers, is taken
//! out of balancing (while the consecutive-errors detector, set high, never fires) and comes back
//! once its ejection has passed and it answers again.

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
    let dir = TempDir::new("outlier-failure-percentage");
    let source = program(
        &[&good, &other, &bad],
        "failure_percentage 50% min_requests 3",
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();

    until_ejected(edge, &bad, 6).await;
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
    let dir = TempDir::new("outlier-success-rate");
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
