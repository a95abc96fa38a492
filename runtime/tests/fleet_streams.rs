//! Streams shared by meshd processes through their consumer group, against a broker in its own
//! process (a meshd whose bundle only declares topics: its embedded broker): kill -9 one member
//! mid-stream, the others take its partitions over, and every record reaches the output or the
//! dead letter.
//!
//! `exactly_once` runs the same drill. librdkafka's mock cluster answers the transaction
//! requests but keeps none of their effects (offsets sent in a transaction are not stored, no
//! commit/abort markers are written, aborted records stay visible), so against it the drill can
//! only show that nothing is lost. With `MESHD_TEST_TRANSACTIONAL_BROKERS=host:port` (a real
//! Kafka) the drill also asserts that a `read_committed` reader sees no duplicate.

mod fleet_support;
mod stream_harness;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fleet_support::meshd_process::{eventually, MeshdProcess};
use fleet_support::Scratch;
use stream_harness::{produce_raw, read_all, record_count, RawRecord, ReadRecord};

const RECORDS: usize = 20_000;
const PARTITIONS: i32 = 6;

fn topics(prefix: &str) -> String {
    format!(
        "topic \"{prefix}-log\" external {{ partitions {PARTITIONS} }}\n\
         topic \"{prefix}-out\" {{ partitions {PARTITIONS} }}\n\
         topic \"{prefix}-dlq\" {{ partitions 1 }}\n"
    )
}

fn stream_program(prefix: &str, exactly_once: bool) -> String {
    format!(
        "{}stream {prefix} {{\n  from topic \"{prefix}-log\" group \"{prefix}-group\"\n  \
         when event.value.severity == \"red\" || event.value.severity == \"calm\"\n  \
         to topic \"{prefix}-out\"{}\n  dead_letter \"{prefix}-dlq\"\n}}\n",
        topics(prefix),
        if exactly_once { " exactly_once" } else { "" }
    )
}

/// Every tenth record is not JSON (dead letter); the rest pass.
fn value(index: usize) -> Vec<u8> {
    if index % 10 == 7 {
        format!("{{\"id\":{index},\"severity\":\"red\",\"cut off").into_bytes()
    } else {
        let severity = if index % 2 == 0 { "red" } else { "calm" };
        format!(r#"{{"id":{index},"severity":"{severity}","note":"takeover drill {index:06}"}}"#)
            .into_bytes()
    }
}

fn key(index: usize) -> String {
    format!("rec-{index:05}")
}

/// Writes `range` of the feed, in slices, pausing between them so the stream is mid-way when
/// a member dies.
fn feed(bootstrap: &str, topic: &str, range: std::ops::Range<usize>) {
    let keys: Vec<String> = range.clone().map(key).collect();
    let values: Vec<Vec<u8>> = range.clone().map(value).collect();
    for (keys, values) in keys.chunks(500).zip(values.chunks(500)) {
        let records: Vec<RawRecord<'_>> = keys
            .iter()
            .zip(values)
            .map(|(k, v)| (Some(k.as_bytes()), v.as_slice(), &[][..]))
            .collect();
        produce_raw(bootstrap, topic, &records);
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Drill {
    _scratch: Scratch,
    _broker: MeshdProcess,
    bootstrap: String,
    members: Vec<MeshdProcess>,
    prefix: &'static str,
}

/// A broker process and three stream members (session timeout 6 s, the broker's smallest).
fn drill(prefix: &'static str, exactly_once: bool, brokers: Option<String>) -> Drill {
    let scratch = Scratch::new(prefix);
    let args = |program: &std::path::Path, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["run", &program.display().to_string()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(
            [
                "--admin",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--no-access-log",
            ]
            .iter()
            .chain(extra)
            .map(|s| s.to_string()),
        );
        args
    };
    let broker_program = scratch.join("broker.mesh");
    std::fs::write(&broker_program, topics(prefix)).unwrap();
    let broker = MeshdProcess::start(&args(&broker_program, &[]));
    let bootstrap = match brokers {
        Some(brokers) => {
            create_topics(&brokers, prefix);
            brokers
        }
        None => broker
            .wait_for_line(|l| l.contains("bootstrap "))
            .rsplit("bootstrap ")
            .next()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned(),
    };
    let stream_program_file = scratch.join("stream.mesh");
    std::fs::write(&stream_program_file, stream_program(prefix, exactly_once)).unwrap();
    let member_args = args(
        &stream_program_file,
        &[
            "--brokers",
            &bootstrap,
            "--stream-session-timeout",
            "6s",
            "--stream-transaction-timeout",
            "6s",
        ],
    );
    let members = (0..3)
        .map(|_| {
            let member = MeshdProcess::start(&member_args);
            member.wait_for_line(|l| l.contains("stream starting"));
            member
        })
        .collect();
    Drill {
        _scratch: scratch,
        _broker: broker,
        bootstrap,
        members,
        prefix,
    }
}

/// Creates the drill's topics on a real cluster (the embedded broker gets them from its bundle).
fn create_topics(brokers: &str, prefix: &str) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let names = [
        (format!("{prefix}-log"), PARTITIONS),
        (format!("{prefix}-out"), PARTITIONS),
        (format!("{prefix}-dlq"), 1),
    ];
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(admin.create_topics(&topics, &AdminOptions::new()))
        .unwrap();
}

fn keys_of(records: &[ReadRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8(r.key.clone().unwrap_or_default()).unwrap())
        .collect()
}

/// Runs the feed, kills member 0 with SIGKILL a third of the way in, and waits until every
/// record reached the output or the dead letter. Returns (output keys, dead-letter keys).
fn kill_one_mid_stream(drill: &mut Drill) -> (Vec<String>, Vec<String>) {
    let (log, out, dlq) = (
        format!("{}-log", drill.prefix),
        format!("{}-out", drill.prefix),
        format!("{}-dlq", drill.prefix),
    );
    let expected_out = (0..RECORDS).filter(|i| i % 10 != 7).count();
    let expected_dlq = RECORDS - expected_out;
    let bootstrap = drill.bootstrap.clone();
    let writer = {
        let (bootstrap, log) = (bootstrap.clone(), log.clone());
        std::thread::spawn(move || feed(&bootstrap, &log, 0..RECORDS))
    };
    eventually("the stream is a third of the way", || {
        record_count(&bootstrap, &out, PARTITIONS) >= expected_out / 3
    });
    let killed = drill.members[0].pid();
    drill.members[0].kill9();
    eprintln!(
        "killed member {killed} with {} of {expected_out} outputs written",
        record_count(&bootstrap, &out, PARTITIONS)
    );
    writer.join().unwrap();
    let started = Instant::now();
    let all_there = stream_harness::wait_until(Duration::from_secs(120), || {
        // Counting is cheap; reading the topics back only once the counts allow it.
        if record_count(&bootstrap, &out, PARTITIONS) < expected_out
            || record_count(&bootstrap, &dlq, 1) < expected_dlq
        {
            std::thread::sleep(Duration::from_millis(200));
            return false;
        }
        let outputs: BTreeSet<String> = keys_of(&read_all(&bootstrap, &out, PARTITIONS))
            .into_iter()
            .collect();
        let dead: BTreeSet<String> = keys_of(&read_all(&bootstrap, &dlq, 1))
            .into_iter()
            .collect();
        outputs.len() == expected_out && dead.len() == expected_dlq
    });
    if !all_there {
        let outputs: BTreeSet<String> = keys_of(&read_all(&bootstrap, &out, PARTITIONS))
            .into_iter()
            .collect();
        let dead: BTreeSet<String> = keys_of(&read_all(&bootstrap, &dlq, 1))
            .into_iter()
            .collect();
        let missing: Vec<usize> = (0..RECORDS)
            .filter(|i| {
                let topic = if i % 10 == 7 { &dead } else { &outputs };
                !topic.contains(&key(*i))
            })
            .collect();
        let source: BTreeMap<String, i32> = read_all(&bootstrap, &log, PARTITIONS)
            .into_iter()
            .map(|r| (String::from_utf8(r.key.unwrap()).unwrap(), r.partition))
            .collect();
        let mut by_partition = BTreeMap::new();
        for i in &missing {
            *by_partition
                .entry(source.get(&key(*i)).copied())
                .or_insert(0) += 1;
        }
        for member in &drill.members[1..] {
            eprintln!("--- survivor log:\n{}", member.log().join("\n"));
        }
        panic!(
            "records were lost when a member died: {} missing, by partition {by_partition:?}",
            missing.len()
        );
    }
    eprintln!(
        "the survivors finished {:?} after the feed ended",
        started.elapsed()
    );
    (
        keys_of(&read_all(&bootstrap, &out, PARTITIONS)),
        keys_of(&read_all(&bootstrap, &dlq, 1)),
    )
}

fn duplicates(keys: &[String]) -> usize {
    let mut seen = BTreeMap::new();
    for key in keys {
        *seen.entry(key).or_insert(0usize) += 1;
    }
    seen.values().map(|n| n - 1).sum()
}

#[test]
fn three_members_share_a_stream_and_a_kill_9_loses_nothing() {
    let mut drill = drill("takeover", false, None);
    let (out, dlq) = kill_one_mid_stream(&mut drill);
    // Every key of the feed is in exactly one of the two topics (at least once).
    let expected: BTreeSet<String> = (0..RECORDS).map(key).collect();
    let seen: BTreeSet<String> = out.iter().chain(&dlq).cloned().collect();
    assert_eq!(seen, expected);
    let replayed = duplicates(&out) + duplicates(&dlq);
    // The documented bound: a crash replays at most one member's uncommitted window.
    let bound = meshd::stream::StreamOptions::default().duplicate_bound();
    eprintln!("{replayed} records replayed after the kill (bound {bound})");
    assert!(
        replayed <= bound,
        "{replayed} duplicates, more than the window of {bound}"
    );
    // The survivors both worked: the group spread the partitions over them.
    for member in &drill.members[1..] {
        assert!(member.metric("kafka_consumed_records_total") > 0.0);
    }
}

#[test]
fn an_exactly_once_stream_survives_a_kill_9() {
    let brokers = std::env::var("MESHD_TEST_TRANSACTIONAL_BROKERS").ok();
    let real_broker = brokers.is_some();
    let mut drill = drill("exactly", true, brokers);
    let (out, dlq) = kill_one_mid_stream(&mut drill);
    let expected: BTreeSet<String> = (0..RECORDS).map(key).collect();
    let seen: BTreeSet<String> = out.iter().chain(&dlq).cloned().collect();
    assert_eq!(seen, expected, "nothing is lost");
    let repeated = duplicates(&out) + duplicates(&dlq);
    if real_broker {
        assert_eq!(repeated, 0, "a read_committed reader saw duplicates");
    } else {
        eprintln!(
            "{repeated} duplicates visible: the mock cluster keeps neither transactional offsets \
             nor abort markers; set MESHD_TEST_TRANSACTIONAL_BROKERS to check exactly-once"
        );
    }
    for member in &drill.members[1..] {
        assert!(
            member
                .metric("kafka_stream_transactions_total{rule=\"exactly\",outcome=\"committed\"}")
                > 0.0
        );
    }
}
