//! Produce routes across a drain, on the real binary against a mock Kafka cluster in the test
//! process (so the broker can be slowed down): a request in flight at SIGTERM gets its Kafka
//! answer, or a 503 when the broker is slower than the drain timeout allows, never a cut
//! connection and never a 2xx for a record that is not in the topic. The route allows 20 s for an
//! acknowledgement (5 s by default), so a loaded machine slowing the in-process broker does not
//! turn the first case into a 503.

mod drain_support;
mod scratch;
mod stream_harness;
mod support;

use std::time::Duration;

use drain_support::*;
use meshd::stream::broker::embedded_broker::{BrokerFault, BrokerProgram, EmbeddedBroker};
use stream_harness::read_all;
use support::Scratch;

const PROGRAM: &str = r#"
gateway edge {
  listen "127.0.0.1:0"
  route log { match POST "/log" public timeout 20s produce topic "captains-log" acks all mode sync }
}
topic "captains-log" external
"#;

async fn broker() -> EmbeddedBroker {
    let broker = tokio::task::spawn_blocking(|| {
        EmbeddedBroker::start(&BrokerProgram::at(env!("CARGO_BIN_EXE_meshd")))
    })
    .await
    .unwrap()
    .unwrap();
    broker.create_topic("captains-log", 1).unwrap();
    broker
}

fn start_meshd(dir: &Scratch, broker: &EmbeddedBroker, timeout: &str) -> Meshd {
    let source = write_program(dir.dir(), PROGRAM);
    Meshd::start_async(
        &meshd_binary(),
        &source,
        &[
            "--admin",
            "127.0.0.1:0",
            "--brokers",
            broker.bootstrap_servers(),
            "--drain-delay",
            "100ms",
            "--drain-timeout",
            timeout,
        ],
    )
}

/// Posts `count` records at once, each with a body naming it.
fn post_records(
    meshd: &Meshd,
    first: usize,
    count: usize,
) -> Vec<(String, tokio::task::JoinHandle<Result<Reply, Failure>>)> {
    (first..first + count)
        .map(|n| {
            let body = format!(r#"{{"entry":{n}}}"#);
            let (gateway, sent) = (meshd.gateway, body.clone());
            (
                body,
                tokio::spawn(async move { post_once(gateway, "/log", &sent).await }),
            )
        })
        .collect()
}

/// Waits until meshd counts `n` requests in flight (the records are with the broker).
async fn wait_in_flight(meshd: &Meshd, n: usize) {
    let line = format!("meshd_requests_in_flight{{side=\"inbound\"}} {n}");
    let deadline = std::time::Instant::now() + PATIENCE;
    while !get_once(meshd.admin, "/metrics")
        .await
        .unwrap()
        .body
        .contains(&line)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "never {n} requests in flight"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every 2xx names where its record landed: it must be there, with its body.
async fn assert_every_2xx_is_in_the_topic(broker: &EmbeddedBroker, answered: &[(String, Reply)]) {
    broker
        .inject(BrokerFault::RoundTripTime(Duration::ZERO))
        .unwrap();
    let bootstrap = broker.bootstrap_servers().to_owned();
    let records = tokio::task::spawn_blocking(move || read_all(&bootstrap, "captains-log", 1))
        .await
        .unwrap();
    for (body, reply) in answered
        .iter()
        .filter(|(_, r)| (200..300).contains(&r.status))
    {
        let landed: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        let offset = landed["offset"].as_i64().unwrap();
        let record = records
            .iter()
            .find(|r| r.offset == offset)
            .unwrap_or_else(|| panic!("a 2xx for offset {offset}, which is not in the topic"));
        assert_eq!(String::from_utf8_lossy(&record.value), *body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_requests_in_flight_at_sigterm_get_their_kafka_answer() {
    let broker = broker().await;
    let dir = Scratch::new("drain-produce");
    let mut meshd = start_meshd(&dir, &broker, "20s");
    broker
        .inject(BrokerFault::RoundTripTime(Duration::from_millis(800)))
        .unwrap();
    let posts = post_records(&meshd, 0, 20);
    wait_in_flight(&meshd, 20).await;

    meshd.signal(libc::SIGTERM);
    let mut answered = Vec::new();
    for (body, post) in posts {
        let reply = post.await.unwrap().expect("a produce request was cut");
        assert_eq!(reply.status, 200, "{reply:?}");
        answered.push((body, reply));
    }
    assert_eq!(meshd.wait_exit().await.0.code(), Some(0), "{}", meshd.log());
    assert_every_2xx_is_in_the_topic(&broker, &answered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_slower_than_the_drain_timeout_gets_503_never_a_cut_or_a_false_2xx() {
    let broker = broker().await;
    let dir = Scratch::new("drain-produce-slow");
    let mut meshd = start_meshd(&dir, &broker, "2s");
    let mut answered = Vec::new();
    for (body, post) in post_records(&meshd, 0, 5) {
        answered.push((body, post.await.unwrap().unwrap()));
    }
    assert!(
        answered.iter().all(|(_, reply)| reply.status == 200),
        "{answered:?}"
    );
    broker
        .inject(BrokerFault::RoundTripTime(Duration::from_secs(30)))
        .unwrap();
    let posts = post_records(&meshd, 5, 10);
    wait_in_flight(&meshd, 10).await;

    meshd.signal(libc::SIGTERM);
    for (body, post) in posts {
        let reply = post.await.unwrap().expect("a produce request was cut");
        assert_eq!(reply.status, 503, "{reply:?}");
        assert_eq!(reply.retry_after.as_deref(), Some("1"), "{reply:?}");
        assert!(reply.body.contains("shutting down"), "{reply:?}");
        answered.push((body, reply));
    }
    // Everything was answered, so the drain was clean.
    let (status, after_signal) = meshd.wait_exit().await;
    assert_eq!(status.code(), Some(0), "{}", meshd.log());
    assert!(after_signal < Duration::from_secs(20), "{after_signal:?}");
    assert_every_2xx_is_in_the_topic(&broker, &answered).await;
}
