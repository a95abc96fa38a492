//! HTTP → Kafka through meshd: a route's `produce` action, over real sockets into librdkafka's
//! mock cluster (the embedded broker, or one named with `--brokers`), read back with a real
//! consumer.

mod scratch;
mod stream_harness;
mod support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use meshd::stream::{BrokerFault, BrokerProgram, EmbeddedBroker};
use meshd::RunningServer;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use stream_harness::{read_topic, record_count, ReadRecord};
use support::{client, send, start_mesh, start_with, test_options, Answer, Scratch};

/// Topics without `partitions` get the embedded broker's default of 3.
const LOG_PROGRAM: &str = r#"
gateway edge {
  listen "127.0.0.1:0"
  route log {
    match POST "/log"
    public
    produce topic "captains-log" key request.headers["x-ship"] headers ["x-ship", "x-stardate"] acks all mode sync
  }
  route log_async {
    match POST "/log/async"
    public
    produce topic "captains-log" key request.headers["x-ship"] acks 1 mode async
  }
  route log_envelope {
    match POST "/log/envelope"
    public
    produce topic "envelopes" value envelope acks all mode sync
  }
  route log_by_body {
    match POST "/log/by-body"
    public
    produce topic "captains-log" key request.body.ship acks all mode sync
  }
  route ship_log {
    match POST "/ships/{ship}/log"
    public
    produce topic param "ship" allow ["enterprise", "voyager"] acks all mode sync
  }
  route small {
    match POST "/small"
    public
    body_limit 64B
    produce topic "captains-log" acks all mode sync
  }
}

topic "captains-log" { partitions 3 }
topic "envelopes"
topic "enterprise"
topic "voyager"
"#;

fn bootstrap(server: &RunningServer) -> String {
    server
        .kafka()
        .bootstrap_servers()
        .expect("a bundle with produce routes starts Kafka")
}

async fn post(server: &RunningServer, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut request =
        http::Request::post(format!("http://{}{path}", server.listener("edge").unwrap()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    send(&client(), request).await
}

/// Reads `topic` on a blocking thread (the consumer polls synchronously).
async fn read_back(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    expected: usize,
) -> Vec<ReadRecord> {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        read_topic(
            &bootstrap,
            &topic,
            partitions,
            expected,
            Duration::from_secs(20),
        )
    })
    .await
    .unwrap()
}

async fn count(bootstrap: &str, topic: &str, partitions: i32) -> usize {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || record_count(&bootstrap, &topic, partitions))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_post_answers_200_with_where_the_record_landed_and_it_reads_back_exactly() {
    let dir = Scratch::new("produce-sync");
    let server = start_mesh(&dir, LOG_PROGRAM).await;
    let body = br#"{"stardate": 41153.7, "severity": "red", "entry": "Encountered Q."}"#;
    let answer = post(
        &server,
        "/log",
        &[
            ("x-ship", "enterprise"),
            ("x-stardate", "41153.7"),
            ("x-not-copied", "1"),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let landed = answer.json();
    assert_eq!(landed["topic"], "captains-log");
    let partition = landed["partition"].as_i64().unwrap() as i32;
    let offset = landed["offset"].as_i64().unwrap();

    let records = read_back(&bootstrap(&server), "captains-log", 3, 1).await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!((record.partition, record.offset), (partition, offset));
    assert_eq!(record.key.as_deref(), Some(&b"enterprise"[..]));
    assert_eq!(record.value, body);
    assert_eq!(
        record.headers,
        [
            ("x-ship".to_string(), b"enterprise".to_vec()),
            ("x-stardate".to_string(), b"41153.7".to_vec()),
        ]
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_with_the_same_key_land_in_the_same_partition_in_order() {
    let dir = Scratch::new("produce-order");
    let server = start_mesh(&dir, LOG_PROGRAM).await;
    let mut landed = Vec::new();
    for index in 0..5 {
        let answer = post(
            &server,
            "/log",
            &[("x-ship", "voyager")],
            format!("entry {index}").as_bytes(),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let json = answer.json();
        landed.push((
            json["partition"].as_i64().unwrap(),
            json["offset"].as_i64().unwrap(),
        ));
    }
    assert!(
        landed
            .iter()
            .all(|(partition, _)| *partition == landed[0].0),
        "{landed:?}"
    );
    assert!(
        landed.windows(2).all(|pair| pair[1].1 == pair[0].1 + 1),
        "{landed:?}"
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_post_answers_202_and_the_record_still_arrives() {
    let dir = Scratch::new("produce-async");
    let server = start_mesh(&dir, LOG_PROGRAM).await;
    let answer = post(
        &server,
        "/log/async",
        &[("x-ship", "defiant")],
        b"queued entry",
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.json()["topic"], "captains-log");
    assert_eq!(answer.json()["queued"], true);
    let records = read_back(&bootstrap(&server), "captains-log", 3, 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key.as_deref(), Some(&b"defiant"[..]));
    assert_eq!(records[0].value, b"queued entry");
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_value_carries_method_path_headers_query_and_json_body() {
    let dir = Scratch::new("produce-envelope");
    let server = start_mesh(&dir, LOG_PROGRAM).await;
    let answer = post(
        &server,
        "/log/envelope?deck=7",
        &[
            ("x-ship", "enterprise"),
            ("content-type", "application/json"),
        ],
        br#"{"severity":"red"}"#,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let records = read_back(&bootstrap(&server), "envelopes", 3, 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key, None);
    let envelope: serde_json::Value = serde_json::from_slice(&records[0].value).unwrap();
    assert_eq!(envelope["method"], "POST");
    assert_eq!(envelope["path"], "/log/envelope");
    assert_eq!(envelope["query"], serde_json::json!({"deck": "7"}));
    assert_eq!(envelope["headers"]["x-ship"], "enterprise");
    assert_eq!(envelope["body"], serde_json::json!({"severity": "red"}));
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_from_a_path_param_is_used_only_when_the_allow_list_names_it() {
    let dir = Scratch::new("produce-param");
    let server = start_mesh(&dir, LOG_PROGRAM).await;
    let answer = post(&server, "/ships/voyager/log", &[], b"delta quadrant").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["topic"], "voyager");
    let records = read_back(&bootstrap(&server), "voyager", 3, 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value, b"delta quadrant");

    let refused = post(
        &server,
        "/ships/borg-cube/log",
        &[],
        b"resistance is futile",
    )
    .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert!(
        refused.json()["reason"]
            .as_str()
            .unwrap()
            .contains("borg-cube"),
        "{}",
        refused.body
    );
    assert_eq!(count(&bootstrap(&server), "enterprise", 3).await, 0);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_route_limit_is_refused_with_413_and_not_produced() {
    let dir = Scratch::new("produce-limit");
    let server = start_mesh(&dir, LOG_PROGRAM).await;
    let answer = post(&server, "/small", &[], &[b'x'; 65]).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    let fits = post(&server, "/small", &[], &[b'y'; 64]).await;
    assert_eq!(fits.status, 200, "{}", fits.body);
    let records = read_back(&bootstrap(&server), "captains-log", 3, 2).await;
    assert_eq!(
        records.len(),
        1,
        "only the body within the limit is a record"
    );
    assert_eq!(records[0].value, [b'y'; 64]);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_answers_503_with_retry_after_and_never_a_false_200() {
    let dir = Scratch::new("produce-outage");
    let server = start_mesh(&dir, LOG_PROGRAM).await;
    let before = post(&server, "/log", &[("x-ship", "enterprise")], b"before").await;
    assert_eq!(before.status, 200, "{}", before.body);

    server
        .kafka()
        .with_embedded_broker(|broker| broker.inject(BrokerFault::AllBrokersDown))
        .unwrap()
        .unwrap();
    let during = post(&server, "/log", &[("x-ship", "enterprise")], b"during").await;
    assert_eq!(during.status, 503, "{}", during.body);
    let retry_after: u64 = during.header("retry-after").unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    server
        .kafka()
        .with_embedded_broker(|broker| broker.inject(BrokerFault::AllBrokersUp))
        .unwrap()
        .unwrap();

    // Once the broker is back, a record written after the outage must be the only other one: the
    // answered-503 record never shows up late.
    let mut after = post(&server, "/log", &[("x-ship", "enterprise")], b"after").await;
    for _ in 0..10 {
        if after.status == 200 {
            break;
        }
        assert_eq!(after.status, 503, "{}", after.body);
        after = post(&server, "/log", &[("x-ship", "enterprise")], b"after").await;
    }
    assert_eq!(after.status, 200, "{}", after.body);
    let records = read_back(&bootstrap(&server), "captains-log", 3, 3).await;
    let values: Vec<&[u8]> = records.iter().map(|r| r.value.as_slice()).collect();
    assert!(!values.contains(&&b"during"[..]), "{values:?}");
    assert!(
        values.contains(&&b"before"[..]) && values.contains(&&b"after"[..]),
        "{values:?}"
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_refusing_the_record_answers_503_and_stores_nothing() {
    let dir = Scratch::new("produce-refused");
    let server = start_mesh(&dir, LOG_PROGRAM).await;
    let warm = post(&server, "/log", &[("x-ship", "enterprise")], b"warm").await;
    assert_eq!(warm.status, 200, "{}", warm.body);
    server
        .kafka()
        .with_embedded_broker(|broker| {
            broker.inject(BrokerFault::RequestErrors(
                RDKafkaApiKey::Produce,
                vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED],
            ))
        })
        .unwrap()
        .unwrap();
    let refused = post(&server, "/log", &[("x-ship", "enterprise")], b"refused").await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(count(&bootstrap(&server), "captains-log", 3).await, 1);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_brokers_meshd_produces_to_that_cluster_and_starts_no_broker_of_its_own() {
    let cluster = tokio::task::spawn_blocking(|| {
        EmbeddedBroker::start(&BrokerProgram::at(env!("CARGO_BIN_EXE_meshd")))
    })
    .await
    .unwrap()
    .unwrap();
    cluster.create_topic("captains-log", 1).unwrap();
    let dir = Scratch::new("produce-brokers");
    let file = dir.path("main.mesh");
    std::fs::write(
        &file,
        r#"
gateway edge {
  listen "127.0.0.1:0"
  route log { match POST "/log" public produce topic "captains-log" acks all mode sync }
}
topic "captains-log" external
"#,
    )
    .unwrap();
    let mut options = test_options(vec![file]);
    options.brokers = Some(cluster.bootstrap_servers().to_owned());
    let server = start_with(options).await;
    assert_eq!(
        server.kafka().bootstrap_servers().as_deref(),
        Some(cluster.bootstrap_servers())
    );
    assert!(server.kafka().with_embedded_broker(|_| ()).is_none());
    let answer = post(&server, "/log", &[], b"to the real cluster").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let records = read_back(cluster.bootstrap_servers(), "captains-log", 1, 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value, b"to the real cluster");
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_too_large_for_kafka_is_refused_with_413_not_503() {
    let dir = Scratch::new("produce-too-large");
    let server = start_mesh(&dir, LOG_PROGRAM).await;
    // Within the 1 MiB a produce route reads by default, past librdkafka's 1 000 000-byte records.
    let body = vec![b'x'; 1_040_000];
    let answer = post(&server, "/log", &[("x-ship", "enterprise")], &body).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert_eq!(answer.header("retry-after"), None);
    assert_eq!(count(&bootstrap(&server), "captains-log", 3).await, 0);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_from_a_json_body_field_keys_the_record_and_a_body_without_it_is_400() {
    let dir = Scratch::new("produce-body-key");
    let server = start_mesh(&dir, LOG_PROGRAM).await;
    let body = br#"{"ship":"defiant","entry":"Dominion fleet sighted"}"#;
    let answer = post(&server, "/log/by-body", &[], body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let records = read_back(&bootstrap(&server), "captains-log", 3, 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key.as_deref(), Some(&b"defiant"[..]));
    assert_eq!(records[0].value, body);

    for unkeyed in [&b"not json"[..], br#"{"entry":"no ship"}"#] {
        let refused = post(&server, "/log/by-body", &[], unkeyed).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
    }
    assert_eq!(count(&bootstrap(&server), "captains-log", 3).await, 1);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_starts_when_a_reloaded_bundle_first_produces() {
    let dir = Scratch::new("produce-reload");
    let server = start_mesh(
        &dir,
        r#"gateway edge { listen "127.0.0.1:0" route ping { match GET "/ping" public respond 200 "pong" } }"#,
    )
    .await;
    assert_eq!(
        server.kafka().bootstrap_servers(),
        None,
        "no Kafka until a bundle needs it"
    );
    // The same listen line: a reload may not move a listener.
    std::fs::write(
        dir.path("main.mesh"),
        r#"
gateway edge {
  listen "127.0.0.1:0"
  route ping { match GET "/ping" public respond 200 "pong" }
  route log { match POST "/log" public produce topic "captains-log" acks all mode sync }
}
topic "captains-log"
"#,
    )
    .unwrap();
    support::eventually("the produce route is served", async || {
        post(&server, "/log", &[], b"after reload").await.status == 200
    })
    .await;
    let records = read_back(&bootstrap(&server), "captains-log", 3, 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value, b"after reload");
    server.shutdown();
}
