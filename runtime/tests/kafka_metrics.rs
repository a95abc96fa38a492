//! The Kafka metrics on the admin `/metrics`: a produce route and a stream running inside meshd
//! against the embedded broker, read back as Prometheus text.

mod scratch;
mod support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use support::{admin_get, client, send, start_mesh, Scratch};

const PROGRAM: &str = r#"
gateway edge {
  listen "127.0.0.1:0"
  route log {
    match POST "/log"
    public
    produce topic "captains-log" key request.headers["x-ship"] acks all mode sync
  }
}

topic "captains-log" { partitions 3 }
topic "red-alerts"
topic "captains-log-dlq"

stream red_alerts {
  from topic "captains-log" group "alerts"
  when event.value.severity == "red"
  to topic "red-alerts" key event.key
  dead_letter "captains-log-dlq"
}
"#;

/// The value of the first sample whose line starts with `prefix`, if any.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produced_consumed_filtered_dead_lettered_latency_and_lag_show_on_the_admin_metrics() {
    let dir = Scratch::new("kafka-metrics");
    let server = start_mesh(&dir, PROGRAM).await;
    let edge = server.listener("edge").unwrap();
    // One key: every record lands in the same partition, the one whose lag is checked.
    let mut partition = None;
    for body in [
        r#"{"severity":"red","entry":"Borg"}"#,
        r#"{"severity":"green","entry":"tea"}"#,
        r#"{"severity":"red","entry":"Romulans"}"#,
        "not json at all",
    ] {
        let request = http::Request::post(format!("http://{edge}/log"))
            .header("x-ship", "enterprise")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let answer = send(&client(), request).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        partition = answer.json()["partition"].as_i64();
    }
    let partition = partition.unwrap();
    let lag = format!(
        r#"kafka_consumer_lag{{rule="red_alerts",topic="captains-log",partition="{partition}"}}"#
    );

    let expected: [(&str, f64); 6] = [
        (
            r#"kafka_produced_records_total{topic="captains-log",rule="log"}"#,
            4.0,
        ),
        (
            r#"kafka_produced_records_total{topic="red-alerts",rule="red_alerts"}"#,
            2.0,
        ),
        (
            r#"kafka_consumed_records_total{topic="captains-log",rule="red_alerts"}"#,
            4.0,
        ),
        (
            r#"kafka_filtered_records_total{topic="captains-log",rule="red_alerts"}"#,
            1.0,
        ),
        (
            r#"kafka_dead_lettered_records_total{topic="captains-log-dlq",rule="red_alerts","#,
            1.0,
        ),
        (
            r#"kafka_delivery_latency_seconds_count{rule="log",sink="kafka"}"#,
            4.0,
        ),
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = admin_get(&server, "/metrics").await.body;
        let counted = expected
            .iter()
            .all(|(prefix, value)| sample(&text, prefix) == Some(*value));
        // The stream read the partition to its end: lag 0 (librdkafka's statistics report it).
        let caught_up = sample(&text, &lag) == Some(0.0);
        if (counted && caught_up) || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for (prefix, value) in expected {
        assert_eq!(sample(&text, prefix), Some(value), "{prefix} in\n{text}");
    }
    assert_eq!(
        sample(&text, &lag),
        Some(0.0),
        "{lag} in
{text}"
    );
    assert!(
        text.contains(r#"kafka_delivery_latency_seconds_bucket{le="#)
            || text
                .contains(r#"kafka_delivery_latency_seconds_bucket{rule="log",sink="kafka",le="#),
        "no latency buckets in\n{text}"
    );
    server.shutdown();
}
