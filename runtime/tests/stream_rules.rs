//! Streams end to end against the embedded broker over TCP: filtering into the target topic, dead
//! letters with their cause, metrics, and at-least-once across a crash and a rebalance.

mod stream_harness;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use meshd::stream::rules::dead_letter::{
    REASON_HEADER, SOURCE_OFFSET_HEADER, SOURCE_PARTITION_HEADER, SOURCE_TOPIC_HEADER,
    STREAM_HEADER,
};
use meshd::stream::{
    BrokerFault, BrokerProgram, KafkaCluster, KafkaMetrics, StreamOptions, StreamSupervisor,
};
use prometheus_client::registry::Registry;
use stream_harness::bundles::{empty, filter_stream, topic};
use stream_harness::{produce_raw, read_all, record_count, wait_until, RawRecord, ReadRecord};

const RECORDS: usize = 10_000;
const PARTITIONS: i32 = 3;

/// What a record of the mixed feed is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Red,
    Calm,
    Malformed,
    NoSeverity,
}

fn kind(index: usize) -> Kind {
    match index % 10 {
        0..=2 => Kind::Red,
        7 => Kind::Malformed,
        8 => Kind::NoSeverity,
        _ => Kind::Calm,
    }
}

/// A ~100-byte JSON record (or a broken one).
fn value(index: usize) -> Vec<u8> {
    let severity = match index % 10 {
        0..=2 => "red",
        3 | 4 => "yellow",
        _ => "green",
    };
    let text = match kind(index) {
        Kind::Malformed => format!(r#"{{"id":{index},"severity":"red","note":"cut off"#),
        Kind::NoSeverity => {
            format!(r#"{{"id":{index},"level":3,"note":"no severity field at all here"}}"#)
        }
        _ => format!(
            r#"{{"id":{index},"severity":"{severity}","ship":"enterprise","note":"stardate entry {index:06}"}}"#
        ),
    };
    text.into_bytes()
}

fn key(index: usize) -> String {
    format!("rec-{index:05}")
}

fn feed(bootstrap: &str, topic: &str, count: usize, value_of: impl Fn(usize) -> Vec<u8>) {
    let keys: Vec<String> = (0..count).map(key).collect();
    let values: Vec<Vec<u8>> = (0..count).map(value_of).collect();
    let sequence: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    let headers: Vec<[(&str, &[u8]); 1]> = sequence
        .iter()
        .map(|seq| [("x-seq", seq.as_bytes())])
        .collect();
    let records: Vec<RawRecord<'_>> = (0..count)
        .map(|i| {
            (
                Some(keys[i].as_bytes()),
                values[i].as_slice(),
                &headers[i][..],
            )
        })
        .collect();
    produce_raw(bootstrap, topic, &records);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn keys_of(records: &[ReadRecord]) -> Vec<String> {
    records
        .iter()
        .map(|record| String::from_utf8(record.key.clone().unwrap()).unwrap())
        .collect()
}

fn metric(text: &str, prefix: &str) -> u64 {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
}

#[test]
fn ten_thousand_mixed_records_split_exactly_into_target_and_dead_letter() {
    let runtime = runtime();
    let cluster =
        Arc::new(KafkaCluster::embedded(&BrokerProgram::at(env!("CARGO_BIN_EXE_meshd"))).unwrap());
    let bootstrap = cluster.bootstrap_servers().to_owned();
    let mut bundle = empty();
    bundle.topics = vec![
        topic("captains-log", PARTITIONS as u64),
        topic("captains-log-dlq", 1),
        topic("red-alerts", PARTITIONS as u64),
    ];
    bundle.streams = vec![filter_stream(
        "red_alerts",
        "captains-log",
        r#"event.value.severity == "red""#,
        "red-alerts",
        "captains-log-dlq",
    )];
    cluster.declare_topics(&bundle.topics).unwrap();
    feed(&bootstrap, "captains-log", RECORDS, value);
    let source: BTreeMap<String, (i32, i64)> = read_all(&bootstrap, "captains-log", PARTITIONS)
        .into_iter()
        .map(|r| {
            (
                String::from_utf8(r.key.unwrap()).unwrap(),
                (r.partition, r.offset),
            )
        })
        .collect();
    assert_eq!(source.len(), RECORDS);

    let mut registry = Registry::default();
    let metrics = KafkaMetrics::register(&mut registry);
    let mut supervisor = StreamSupervisor::new(
        Arc::clone(&cluster),
        metrics,
        StreamOptions::default(),
        runtime.handle().clone(),
    );
    supervisor.apply(&bundle).unwrap();
    assert_eq!(supervisor.running(), ["red_alerts"]);
    let expected_red: BTreeSet<String> = (0..RECORDS)
        .filter(|&i| kind(i) == Kind::Red)
        .map(key)
        .collect();
    let expected_dead: BTreeSet<String> = (0..RECORDS)
        .filter(|&i| matches!(kind(i), Kind::Malformed | Kind::NoSeverity))
        .map(key)
        .collect();
    let done = wait_until(Duration::from_secs(60), || {
        record_count(&bootstrap, "red-alerts", PARTITIONS) >= expected_red.len()
            && record_count(&bootstrap, "captains-log-dlq", 1) >= expected_dead.len()
    });
    supervisor.shutdown();
    assert!(done, "the stream did not get through the feed");

    let red = read_all(&bootstrap, "red-alerts", PARTITIONS);
    let red_keys = keys_of(&red);
    assert_eq!(
        red_keys.len(),
        expected_red.len(),
        "duplicates or extras in red-alerts"
    );
    assert_eq!(red_keys.into_iter().collect::<BTreeSet<_>>(), expected_red);
    for record in &red {
        let index: usize = record.header("x-seq").unwrap().parse().unwrap();
        assert_eq!(record.value, value(index), "value changed in flight");
        assert_eq!(record.key.as_deref(), Some(key(index).as_bytes()));
    }

    let dead = read_all(&bootstrap, "captains-log-dlq", 1);
    let dead_keys = keys_of(&dead);
    assert_eq!(
        dead_keys.len(),
        expected_dead.len(),
        "duplicates or extras in the dead letter"
    );
    assert_eq!(
        dead_keys.into_iter().collect::<BTreeSet<_>>(),
        expected_dead
    );
    for record in &dead {
        let index: usize = record.header("x-seq").unwrap().parse().unwrap();
        let expected_reason = match kind(index) {
            Kind::Malformed => "invalid_json",
            _ => "cel_error",
        };
        assert_eq!(record.header(REASON_HEADER), Some(expected_reason));
        assert_eq!(record.header(STREAM_HEADER), Some("red_alerts"));
        assert_eq!(record.header(SOURCE_TOPIC_HEADER), Some("captains-log"));
        let (partition, offset) = source[&key(index)];
        assert_eq!(
            record.header(SOURCE_PARTITION_HEADER),
            Some(partition.to_string().as_str())
        );
        assert_eq!(
            record.header(SOURCE_OFFSET_HEADER),
            Some(offset.to_string().as_str())
        );
        assert_eq!(record.value, value(index));
    }

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert_eq!(
        metric(
            &text,
            r#"kafka_consumed_records_total{topic="captains-log",rule="red_alerts"}"#
        ),
        RECORDS as u64
    );
    assert_eq!(
        metric(
            &text,
            r#"kafka_filtered_records_total{topic="captains-log",rule="red_alerts"}"#
        ),
        5_000
    );
    assert_eq!(
        metric(
            &text,
            r#"kafka_produced_records_total{topic="red-alerts",rule="red_alerts"}"#
        ),
        3_000
    );
    assert_eq!(
        metric(
            &text,
            r#"kafka_dead_lettered_records_total{topic="captains-log-dlq",rule="red_alerts",reason="invalid_json"}"#
        ),
        1_000
    );
}

/// Options that keep the uncommitted window small, so the duplicate bound means something.
fn tight_options() -> StreamOptions {
    StreamOptions {
        max_in_flight: 500,
        commit_every: 200,
        commit_interval: Duration::from_millis(20),
        // The broker's smallest: a crashed member's partitions move on after 6 s.
        session_timeout: Duration::from_secs(6),
        ..StreamOptions::default()
    }
}

fn all_red_bundle() -> meshwork_bundle::Bundle {
    let mut bundle = empty();
    bundle.topics = vec![
        topic("ops-log", PARTITIONS as u64),
        topic("ops-dlq", 1),
        topic("ops-red", PARTITIONS as u64),
    ];
    bundle.streams = vec![filter_stream(
        "ops",
        "ops-log",
        r#"event.value.severity == "red""#,
        "ops-red",
        "ops-dlq",
    )];
    bundle
}

fn red_value(index: usize) -> Vec<u8> {
    format!(r#"{{"id":{index},"severity":"red","note":"restart drill record {index:06}"}}"#)
        .into_bytes()
}

#[test]
fn a_crash_mid_stream_loses_nothing_and_duplicates_stay_within_the_uncommitted_window() {
    let runtime = runtime();
    let cluster =
        Arc::new(KafkaCluster::embedded(&BrokerProgram::at(env!("CARGO_BIN_EXE_meshd"))).unwrap());
    let bootstrap = cluster.bootstrap_servers().to_owned();
    let bundle = all_red_bundle();
    cluster.declare_topics(&bundle.topics).unwrap();
    feed(&bootstrap, "ops-log", RECORDS, red_value);
    let options = tight_options();
    // Slow the broker so the crash lands mid-stream rather than after the last record.
    cluster
        .embedded_broker()
        .unwrap()
        .inject(BrokerFault::RoundTripTime(Duration::from_millis(100)))
        .unwrap();

    let mut first = StreamSupervisor::new(
        Arc::clone(&cluster),
        KafkaMetrics::default(),
        options.clone(),
        runtime.handle().clone(),
    );
    first.apply(&bundle).unwrap();
    assert!(wait_until(Duration::from_secs(60), || {
        record_count(&bootstrap, "ops-red", PARTITIONS) >= 3_000
    }));
    first.abandon();
    let at_crash = record_count(&bootstrap, "ops-red", PARTITIONS);
    assert!(
        at_crash < RECORDS,
        "the crash came too late to test anything"
    );
    cluster
        .embedded_broker()
        .unwrap()
        .inject(BrokerFault::RoundTripTime(Duration::ZERO))
        .unwrap();

    let mut second = StreamSupervisor::new(
        Arc::clone(&cluster),
        KafkaMetrics::default(),
        options.clone(),
        runtime.handle().clone(),
    );
    second.apply(&bundle).unwrap();
    let all_there = wait_until(Duration::from_secs(60), || {
        let records = read_all(&bootstrap, "ops-red", PARTITIONS);
        keys_of(&records).into_iter().collect::<BTreeSet<_>>().len() == RECORDS
    });
    second.shutdown();
    assert!(all_there, "records were lost across the crash");

    let written = read_all(&bootstrap, "ops-red", PARTITIONS);
    let duplicates = written.len() - RECORDS;
    assert!(
        duplicates <= options.duplicate_bound(),
        "{duplicates} duplicates, more than the uncommitted window of {}",
        options.duplicate_bound()
    );
    assert_eq!(record_count(&bootstrap, "ops-dlq", 1), 0);
}

#[test]
fn a_rebalance_between_two_members_loses_nothing() {
    let runtime = runtime();
    let cluster =
        Arc::new(KafkaCluster::embedded(&BrokerProgram::at(env!("CARGO_BIN_EXE_meshd"))).unwrap());
    let bootstrap = cluster.bootstrap_servers().to_owned();
    let bundle = all_red_bundle();
    cluster.declare_topics(&bundle.topics).unwrap();
    feed(&bootstrap, "ops-log", RECORDS, red_value);
    let options = tight_options();
    let start = || {
        let mut member = StreamSupervisor::new(
            Arc::clone(&cluster),
            KafkaMetrics::default(),
            options.clone(),
            runtime.handle().clone(),
        );
        member.apply(&bundle).unwrap();
        member
    };

    let mut first = start();
    assert!(wait_until(Duration::from_secs(60), || {
        record_count(&bootstrap, "ops-red", PARTITIONS) >= 1_000
    }));
    // A second member joins (partitions move), then the first leaves (they move again).
    let mut second = start();
    assert!(wait_until(Duration::from_secs(60), || {
        record_count(&bootstrap, "ops-red", PARTITIONS) >= 5_000
    }));
    first.shutdown();
    let all_there = wait_until(Duration::from_secs(60), || {
        let records = read_all(&bootstrap, "ops-red", PARTITIONS);
        keys_of(&records).into_iter().collect::<BTreeSet<_>>().len() == RECORDS
    });
    second.shutdown();
    assert!(all_there, "records were lost across the rebalances");
    let duplicates = record_count(&bootstrap, "ops-red", PARTITIONS) - RECORDS;
    assert!(
        duplicates <= 2 * options.duplicate_bound(),
        "{duplicates} duplicates across two rebalances"
    );
}

#[test]
fn a_bundle_with_a_broken_stream_is_refused_and_the_running_stream_keeps_going() {
    let runtime = runtime();
    let cluster =
        Arc::new(KafkaCluster::embedded(&BrokerProgram::at(env!("CARGO_BIN_EXE_meshd"))).unwrap());
    let bootstrap = cluster.bootstrap_servers().to_owned();
    let bundle = all_red_bundle();
    let mut supervisor = StreamSupervisor::new(
        Arc::clone(&cluster),
        KafkaMetrics::default(),
        StreamOptions::default(),
        runtime.handle().clone(),
    );
    supervisor.apply(&bundle).unwrap();

    let mut broken = bundle.clone();
    broken.streams[0].when = Some("event.value.severity ==".into());
    broken.streams[0].name = "ops_v2".into();
    assert!(supervisor.apply(&broken).is_err());
    assert_eq!(supervisor.running(), ["ops"]);

    feed(&bootstrap, "ops-log", 100, red_value);
    assert!(
        wait_until(Duration::from_secs(30), || record_count(
            &bootstrap, "ops-red", PARTITIONS
        ) == 100),
        "the old stream stopped working after the refused reload"
    );
    supervisor.shutdown();
}

#[test]
fn an_exactly_once_stream_writes_every_record_once_in_committed_transactions() {
    let runtime = runtime();
    let cluster =
        Arc::new(KafkaCluster::embedded(&BrokerProgram::at(env!("CARGO_BIN_EXE_meshd"))).unwrap());
    let bootstrap = cluster.bootstrap_servers().to_owned();
    let mut bundle = empty();
    bundle.topics = vec![
        topic("eo-log", PARTITIONS as u64),
        topic("eo-dlq", 1),
        topic("eo-red", PARTITIONS as u64),
    ];
    let mut stream = filter_stream(
        "eo",
        "eo-log",
        r#"event.value.severity == "red""#,
        "eo-red",
        "eo-dlq",
    );
    stream.to.as_mut().unwrap().exactly_once = true;
    bundle.streams = vec![stream];
    cluster.declare_topics(&bundle.topics).unwrap();
    feed(&bootstrap, "eo-log", RECORDS, value);

    let mut registry = Registry::default();
    let metrics = KafkaMetrics::register(&mut registry);
    let mut supervisor = StreamSupervisor::new(
        Arc::clone(&cluster),
        metrics,
        StreamOptions::default(),
        runtime.handle().clone(),
    );
    supervisor.apply(&bundle).unwrap();
    let expected_red = (0..RECORDS).filter(|&i| kind(i) == Kind::Red).count();
    let expected_dead = (0..RECORDS)
        .filter(|&i| matches!(kind(i), Kind::Malformed | Kind::NoSeverity))
        .count();
    let done = wait_until(Duration::from_secs(60), || {
        record_count(&bootstrap, "eo-red", PARTITIONS) >= expected_red
            && record_count(&bootstrap, "eo-dlq", 1) >= expected_dead
    });
    supervisor.shutdown();
    assert!(done, "the stream did not get through the feed");
    let red = keys_of(&read_all(&bootstrap, "eo-red", PARTITIONS));
    assert_eq!(red.len(), expected_red, "duplicates or extras");
    assert_eq!(red.iter().collect::<BTreeSet<_>>().len(), expected_red);
    assert_eq!(record_count(&bootstrap, "eo-dlq", 1), expected_dead);

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        metric(
            &text,
            r#"kafka_stream_transactions_total{rule="eo",outcome="committed"}"#
        ) >= 1,
        "{text}"
    );
    assert!(!text.contains(r#"outcome="aborted""#), "{text}");
}
