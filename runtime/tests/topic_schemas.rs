//! Topic schemas enforced by meshd over real sockets against the embedded broker: a produce route
//! refuses a body its topic's schema does not accept (422 with the JSON pointer and keyword, 400
//! for a body that is not JSON) and never produces it; a stream sends source records that break
//! the schema to its dead letter with the reason in a header; both are counted per topic.

mod scratch;
mod stream_harness;
mod support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use meshd::stream::rules::dead_letter::{ERROR_HEADER, REASON_HEADER};
use meshd::RunningServer;
use stream_harness::{produce_raw, read_topic, record_count, RawRecord};
use support::{admin_get, client, eventually, send, start_mesh, Answer, Scratch};

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["stardate", "severity", "entry"],
  "properties": {
    "stardate": { "type": "number" },
    "severity": { "enum": ["green", "yellow", "red"] },
    "entry": { "type": "string" }
  }
}"#;

const PROGRAM: &str = r#"
gateway edge {
  listen "127.0.0.1:0"
  route log {
    match POST "/log"
    public
    produce topic "captains-log" acks all mode sync
  }
  route ship_log {
    match POST "/ships/{ship}/log"
    public
    produce topic param "ship" allow ["captains-log", "free-log"] acks all mode sync
  }
}

topic "captains-log" { partitions 1  schema "captains-log.schema.json" }
topic "free-log" { partitions 1 }
topic "red-alerts" { partitions 1 }
topic "captains-log-dlq" { partitions 1 }

stream red_alerts {
  from topic "captains-log" group "alerts"
  when event.value.severity == "red"
  to topic "red-alerts"
  dead_letter "captains-log-dlq"
}
"#;

async fn start(name: &str) -> (Scratch, RunningServer) {
    let dir = Scratch::new(name);
    std::fs::write(dir.path("captains-log.schema.json"), SCHEMA).unwrap();
    let server = start_mesh(&dir, PROGRAM).await;
    (dir, server)
}

async fn post(server: &RunningServer, path: &str, body: &str) -> Answer {
    let request = http::Request::post(format!("http://{}{path}", server.listener("edge").unwrap()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    send(&client(), request).await
}

fn bootstrap(server: &RunningServer) -> String {
    server.kafka().bootstrap_servers().expect("Kafka runs")
}

async fn count(bootstrap: &str, topic: &str) -> usize {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || record_count(&bootstrap, &topic, 1))
        .await
        .unwrap()
}

/// The value of the first sample whose line starts with `prefix`, if any.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_the_schema_refuses_gets_422_with_pointer_and_keyword_and_is_never_produced() {
    let (_dir, server) = start("schema-produce").await;
    let good = post(
        &server,
        "/log",
        r#"{"stardate": 41153.7, "severity": "red", "entry": "Encountered Q."}"#,
    )
    .await;
    assert_eq!(good.status, 200, "{}", good.body);

    let plaid = post(
        &server,
        "/log",
        r#"{"stardate": 41153.8, "severity": "plaid", "entry": "Tribbles."}"#,
    )
    .await;
    assert_eq!(plaid.status, 422, "{}", plaid.body);
    assert_eq!(plaid.header("content-type"), Some("application/json"));
    let refused = plaid.json();
    assert_eq!(refused["pointer"], "/severity");
    assert_eq!(refused["keyword"], "enum");
    assert_eq!(refused["topic"], "captains-log");
    assert_eq!(refused["route"], "log");

    let wrong_type = post(
        &server,
        "/log",
        r#"{"stardate": "soon", "severity": "red", "entry": "x"}"#,
    )
    .await;
    assert_eq!(wrong_type.status, 422, "{}", wrong_type.body);
    assert_eq!(
        (
            wrong_type.json()["pointer"].clone(),
            wrong_type.json()["keyword"].clone()
        ),
        (serde_json::json!("/stardate"), serde_json::json!("type"))
    );

    let missing = post(&server, "/log", r#"{"stardate": 1, "severity": "red"}"#).await;
    assert_eq!(missing.status, 422, "{}", missing.body);
    assert_eq!(missing.json()["pointer"], "");
    assert_eq!(missing.json()["keyword"], "required");

    let not_json = post(&server, "/log", "Captain's log, stardate 41153.7").await;
    assert_eq!(not_json.status, 400, "{}", not_json.body);
    assert!(
        not_json.json().get("pointer").is_none(),
        "{}",
        not_json.body
    );

    // Only the accepted record reached the topic.
    assert_eq!(count(&bootstrap(&server), "captains-log").await, 1);

    let metrics = admin_get(&server, "/metrics").await.body;
    assert_eq!(
        sample(
            &metrics,
            r#"kafka_schema_rejections_total{topic="captains-log",rule="log"}"#
        ),
        Some(4.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_chosen_by_path_parameter_is_checked_against_its_own_schema() {
    let (_dir, server) = start("schema-param").await;
    let entry = r#"{"severity": "plaid"}"#;
    let refused = post(&server, "/ships/captains-log/log", entry).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.json()["topic"], "captains-log");
    let free = post(&server, "/ships/free-log/log", entry).await;
    assert_eq!(free.status, 200, "{}", free.body);
    let bootstrap = bootstrap(&server);
    assert_eq!(count(&bootstrap, "captains-log").await, 0);
    assert_eq!(count(&bootstrap, "free-log").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dead_letters_source_records_that_break_the_schema_with_the_reason() {
    let (_dir, server) = start("schema-stream").await;
    let bootstrap = bootstrap(&server);
    // Written straight to the topic (as kcat would), past the produce route's check.
    let records: [RawRecord<'_>; 3] = [
        (
            Some(b"1"),
            br#"{"stardate": 1, "severity": "red", "entry": "Borg"}"#,
            &[],
        ),
        (
            Some(b"2"),
            br#"{"stardate": 2, "severity": "crimson", "entry": "Borg"}"#,
            &[],
        ),
        (
            Some(b"3"),
            br#"{"stardate": 3, "severity": "green", "entry": "tea"}"#,
            &[],
        ),
    ];
    {
        let bootstrap = bootstrap.clone();
        tokio::task::spawn_blocking(move || produce_raw(&bootstrap, "captains-log", &records))
            .await
            .unwrap();
    }
    let read = |topic: &'static str| {
        let bootstrap = bootstrap.clone();
        tokio::task::spawn_blocking(move || {
            read_topic(&bootstrap, topic, 1, 1, Duration::from_secs(30))
        })
    };
    let dead = read("captains-log-dlq").await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key.as_deref(), Some(&b"2"[..]));
    assert_eq!(dead[0].header(REASON_HEADER), Some("schema_violation"));
    let error = dead[0].header(ERROR_HEADER).unwrap();
    assert!(
        error.contains("\"/severity\"") && error.contains("enum"),
        "{error}"
    );

    let alerts = read("red-alerts").await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].key.as_deref(), Some(&b"1"[..]));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let metric = r#"kafka_schema_rejections_total{topic="captains-log",rule="red_alerts"}"#;
    loop {
        let metrics = admin_get(&server, "/metrics").await.body;
        if sample(&metrics, metric) == Some(1.0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{metric} in\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_schema_file_is_reloaded_and_a_broken_one_is_refused() {
    let (dir, server) = start("schema-reload").await;
    let plaid = r#"{"stardate": 41153.8, "severity": "plaid", "entry": "Tribbles."}"#;
    assert_eq!(post(&server, "/log", plaid).await.status, 422);

    std::fs::write(
        dir.path("captains-log.schema.json"),
        SCHEMA.replace(r#""red"]"#, r#""red", "plaid"]"#),
    )
    .unwrap();
    eventually("the widened schema is served", async || {
        post(&server, "/log", plaid).await.status == 200
    })
    .await;

    std::fs::write(dir.path("captains-log.schema.json"), "{\"type\": ").unwrap();
    let request = http::Request::post(format!("http://{}/reload", server.admin))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let refused = send(&client(), request).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("E0411"), "{}", refused.body);
    // The bundle before the broken edit keeps serving.
    assert_eq!(post(&server, "/log", plaid).await.status, 200);
}
