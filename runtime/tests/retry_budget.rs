//! Retry budgets over real sockets: during an outage (an upstream answering 503 to everything),
//! a service with `retry 3` alone sends four attempts per request, while the same retry line with
//! a budget sends at most its share more, counted at the upstream.

mod scratch;
mod support;

use std::net::SocketAddr;

use support::*;

async fn statuses(address: SocketAddr, path: &str, n: usize) -> Vec<u16> {
    let client = client();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let request = http::Request::get(format!("http://{address}{path}"))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        out.push(send(&client, request).await.status.as_u16());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_budget_caps_the_retries_of_an_outage_at_its_share_of_the_requests() {
    const N: usize = 200;
    let budgeted = Upstream::start("budgeted", Behaviour::Status(503)).await;
    let unbounded = Upstream::start("unbounded", Behaviour::Status(503)).await;
    let dir = Scratch::new("retry-budget");
    let source = format!(
        r#"gateway edge {{
  listen "127.0.0.1:0"
  route budgeted {{ match GET "/budgeted" public forward budgeted }}
  route unbounded {{ match GET "/unbounded" public forward unbounded }}
}}
service budgeted {{ endpoints ["{}"] retry 3 on [503] backoff 1ms..2ms budget 20% min 0/s window 10m }}
service unbounded {{ endpoints ["{}"] retry 3 on [503] backoff 1ms..2ms }}
"#,
        budgeted.address, unbounded.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();

    assert!(statuses(edge, "/unbounded", N)
        .await
        .iter()
        .all(|s| *s == 503));
    assert_eq!(
        unbounded.requests(),
        4 * N,
        "without a budget every request is tried four times"
    );

    assert!(statuses(edge, "/budgeted", N)
        .await
        .iter()
        .all(|s| *s == 503));
    let attempts = budgeted.requests();
    let share = N / 5;
    assert!(
        attempts <= N + share,
        "{attempts} attempts for {N} requests: the budget allows at most {share} retries"
    );
    assert!(
        attempts >= N + share - 1,
        "{attempts} attempts: the budget's share of retries is still made"
    );

    let metrics = admin_get(&server, "/metrics").await.body;
    let refused: f64 = metrics
        .lines()
        .find(|l| l.starts_with("meshd_retry_budget_exhausted_total{service=\"budgeted\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no budget counter in:\n{metrics}"));
    assert!(refused >= (N - share) as f64, "{refused} retries refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_still_retries_a_failure_while_the_service_is_healthy() {
    let flaky = Upstream::start("flaky", Behaviour::Answer).await;
    let dir = Scratch::new("retry-budget-healthy");
    let source = format!(
        r#"gateway edge {{
  listen "127.0.0.1:0"
  route all {{ match GET "/" public forward crew }}
}}
service crew {{ endpoints ["{}", "{}"] balance round_robin retry 1 on [503] backoff 1ms..2ms budget 20% }}
"#,
        flaky.address, flaky.address
    );
    let server = start_mesh(&dir, &source).await;
    let edge = server.listener("edge").unwrap();
    // Healthy traffic fills the window with requests; then one failure is retried (the reserve
    // alone, 10/s by default, would also allow it).
    assert!(statuses(edge, "/", 20).await.iter().all(|s| *s == 200));
    flaky.set_behaviour(Behaviour::Status(503));
    let before = flaky.requests();
    assert_eq!(statuses(edge, "/", 1).await, [503]);
    assert_eq!(flaky.requests() - before, 2, "the failure was retried once");
}
