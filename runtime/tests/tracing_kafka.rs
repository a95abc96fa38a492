//! One trace from an HTTP request through Kafka: a produce route writes `traceparent` into the
//! record, a stream rule continues it into the record it republishes (and into its dead
//! letters), and a second rule's `deliver` sends it to the service; every span reaches a real
//! OTLP receiver with its parent.

mod scratch;
mod support;
mod tracing_support;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use meshd::trace::OtlpEndpoint;
use serde_json::Value;
use support::*;
use tracing_support::{recording_service, Receiver};

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn program(service: std::net::SocketAddr) -> String {
    format!(
        r#"
gateway edge {{
  listen "127.0.0.1:0"
  tracing {{ sample 0% }}
  route log {{
    match POST "/log"
    public
    produce topic "captains-log" acks all mode sync
  }}
}}

topic "captains-log"
topic "red-alerts"
topic "captains-log-dlq"

stream red_alerts {{
  from topic "captains-log" group "alerts"
  when event.value.severity == "red"
  to topic "red-alerts"
  dead_letter "captains-log-dlq"
}}

stream notify {{
  from topic "red-alerts" group "notify"
  deliver bridge path "/alerts"
}}

service bridge {{ endpoints ["{service}"] }}
"#
    )
}

fn span<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name}: {spans:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_follows_an_event_from_the_request_through_stream_rules_to_the_service() {
    let receiver = Receiver::start();
    let (service, seen) = recording_service().await;
    let dir = Scratch::new("trace-kafka");
    let file = dir.path("main.mesh");
    std::fs::write(&file, program(service)).unwrap();
    let mut options = test_options(vec![file]);
    options.trace.otlp_endpoint = Some(OtlpEndpoint::parse(&receiver.endpoint()).unwrap());
    let server = start_with(options).await;
    let edge = server.listener("edge").unwrap();
    let post = |body: &'static str| {
        Request::post(format!("http://{edge}/log"))
            .header("content-type", "application/json")
            .header("traceparent", CALLER)
            .header("tracestate", "vendor=x")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let client = client();
    let answer = send(&client, post(r#"{"severity":"red","entry":"Borg"}"#)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Not JSON: the first rule dead-letters it, still inside the trace.
    let answer = send(&client, post("not json")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    eventually("the service receives the delivery", async || {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    let delivered = seen.lock().unwrap()[0].clone();
    let traceparent = delivered
        .get("traceparent")
        .unwrap_or_else(|| panic!("no traceparent delivered: {delivered:?}"));
    assert_eq!(
        traceparent.split('-').nth(1),
        Some(TRACE),
        "one trace end to end"
    );
    assert_eq!(
        delivered.get("tracestate").map(String::as_str),
        Some("vendor=x")
    );
    assert!(!delivered.contains_key("x-kafka-header-traceparent"));

    let mut spans = Vec::new();
    eventually("every span reaches the receiver", async || {
        spans = receiver
            .spans()
            .await
            .into_iter()
            .filter(|s| s["trace_id"] == TRACE)
            .collect();
        spans
            .iter()
            .filter(|s| s["name"] == "stream red_alerts")
            .count()
            == 2
            && spans.iter().any(|s| s["name"] == "deliver bridge")
            && spans
                .iter()
                .filter(|s| s["name"] == "produce captains-log")
                .count()
                == 2
    })
    .await;
    let produce = spans
        .iter()
        .find(|s| s["name"] == "produce captains-log")
        .unwrap();
    assert_eq!(produce["kind"], 4, "producer span");
    let routes: Vec<&Value> = spans.iter().filter(|s| s["name"] == "POST log").collect();
    assert!(routes
        .iter()
        .any(|r| r["span_id"] == produce["parent_span_id"]));
    let produced: Vec<&Value> = spans
        .iter()
        .filter(|s| s["name"] == "produce captains-log")
        .collect();
    let rules: Vec<&Value> = spans
        .iter()
        .filter(|s| s["name"] == "stream red_alerts")
        .collect();
    for rule in &rules {
        assert_eq!(rule["kind"], 5, "consumer span");
        assert!(
            produced
                .iter()
                .any(|p| p["span_id"] == rule["parent_span_id"]),
            "each rule span is a child of a produce span: {rule}"
        );
    }
    let dead = rules
        .iter()
        .find(|r| r["attributes"]["meshwork.stream.verdict"] == "dead_lettered")
        .expect("the unreadable record's rule span");
    assert_eq!(dead["status_code"], 2);
    let passed = rules
        .iter()
        .find(|r| r["attributes"]["meshwork.stream.verdict"] == "passed")
        .unwrap();
    let notify = span(&spans, "stream notify");
    assert_eq!(
        notify["parent_span_id"], passed["span_id"],
        "the second rule continues the first's output"
    );
    let deliver = span(&spans, "deliver bridge");
    assert_eq!(deliver["parent_span_id"], notify["span_id"]);
    assert_eq!(
        traceparent.split('-').nth(2),
        deliver["span_id"].as_str(),
        "the service's parent is the deliver span"
    );

    // The dead letter carries the rule's context too.
    let dlq = support_read_dead_letter(&server).await;
    assert!(dlq.contains(dead["span_id"].as_str().unwrap()), "{dlq}");
}

/// The dead-letter record's traceparent, read with kcat from the embedded broker.
async fn support_read_dead_letter(server: &meshd::RunningServer) -> String {
    let bootstrap = server
        .kafka()
        .bootstrap_servers()
        .expect("the embedded broker's address");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("kcat")
            .args([
                "-b",
                &bootstrap,
                "-C",
                "-t",
                "captains-log-dlq",
                "-c",
                "1",
                "-e",
                "-f",
                "%h\n",
            ])
            .output()
    })
    .await
    .unwrap()
    .expect("kcat runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
