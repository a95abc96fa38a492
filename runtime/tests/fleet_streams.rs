//! Streams shared by meshd processes through their consumer group, against a broker in its own
//! process (a meshd whose bundle only declares topics: its embedded broker): kill -9 one member
//! mid-stream, the others take its partitions over, and every record reaches the output or the
//! dead letter.
//!
//! `exactly_once` runs the same drill against a broker with real transactions, in its own
//! process: `noida-db` (PyPI, installed by `.ci/run`; see `fleet_support/noida.rs`), or any
//! Kafka named by `MESHD_TEST_TRANSACTIONAL_BROKERS=host:port`. There a `read_committed` reader
//! must see every record exactly once. librdkafka's mock cluster answers the transaction requests
//! but keeps none of their effects (no commit/abort markers, aborted records stay visible), so
//! when neither is at hand the drill runs against it and can only show that nothing is lost;
//! `MESHD_TEST_REQUIRE_TRANSACTIONS=1` (set by `.ci/run`) makes that a failure instead.

mod fleet_support;
mod scratch;
mod stream_harness;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fleet_support::meshd_process::{eventually, MeshdProcess};
use fleet_support::noida::{noida_binary, NoidaKafka};
use fleet_support::Scratch;
use stream_harness::committed_reader::{committed_keys, settled, uncommitted_keys};
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

fn start_member(args: &[String]) -> MeshdProcess {
    let member = MeshdProcess::start(args);
    member.wait_for_line(|l| l.contains("stream starting"));
    member
}

impl Drill {
    /// Starts the members not running yet.
    fn start_the_others(&mut self) {
        for args in &self.member_args[self.members.len()..] {
            self.members.push(start_member(args));
        }
    }
}

/// Where the drill's broker runs.
enum Broker {
    /// A meshd whose bundle only declares topics: librdkafka's mock cluster.
    Embedded,
    /// A broker with real transactions: noida-db started here, or one given by address.
    Transactional(Option<String>),
}

impl Broker {
    /// For the exactly-once drill: `MESHD_TEST_TRANSACTIONAL_BROKERS`, else noida-db if
    /// installed, else the embedded broker (unless `MESHD_TEST_REQUIRE_TRANSACTIONS` is set).
    fn transactional() -> Broker {
        if let Ok(brokers) = std::env::var("MESHD_TEST_TRANSACTIONAL_BROKERS") {
            return Broker::Transactional(Some(brokers));
        }
        if noida_binary().is_some() {
            return Broker::Transactional(None);
        }
        assert!(
            std::env::var_os("MESHD_TEST_REQUIRE_TRANSACTIONS").is_none(),
            "MESHD_TEST_REQUIRE_TRANSACTIONS is set but no transactional broker is at hand: \
             install noida-db (pip) or set MESHD_TEST_TRANSACTIONAL_BROKERS"
        );
        Broker::Embedded
    }
}

struct Drill {
    // Field order is drop order: members first, then the broker, then its directory.
    members: Vec<MeshdProcess>,
    member_args: Vec<Vec<String>>,
    _embedded: Option<MeshdProcess>,
    noida: Option<NoidaKafka>,
    _scratch: Scratch,
    bootstrap: String,
    prefix: &'static str,
    /// Whether the broker has real transactions (read back with `read_committed`).
    transactional: bool,
}

/// A broker process and three stream members (session timeout 6 s, the broker's smallest).
fn drill(prefix: &'static str, exactly_once: bool, broker: Broker) -> Drill {
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
    let (mut embedded, mut noida) = (None, None);
    let transactional = matches!(broker, Broker::Transactional(_));
    let bootstrap = match broker {
        Broker::Transactional(Some(brokers)) => brokers,
        Broker::Transactional(None) => {
            let binary = noida_binary().expect("noida-db is installed");
            let started = NoidaKafka::start(&binary, &scratch.path("noida"));
            let bootstrap = started.bootstrap.clone();
            noida = Some(started);
            bootstrap
        }
        Broker::Embedded => {
            let broker_program = scratch.path("broker.mesh");
            std::fs::write(&broker_program, topics(prefix)).unwrap();
            let broker = MeshdProcess::start(&args(&broker_program, &[]));
            let bootstrap = broker
                .wait_for_line(|l| l.contains("bootstrap "))
                .rsplit("bootstrap ")
                .next()
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned();
            embedded = Some(broker);
            bootstrap
        }
    };
    if transactional {
        create_topics(&bootstrap, prefix);
    }
    let stream_program_file = scratch.path("stream.mesh");
    std::fs::write(&stream_program_file, stream_program(prefix, exactly_once)).unwrap();
    // Against a transactional broker the members are static (`--stream-instance-id`) and the
    // killed one is restarted under its name, as a StatefulSet would: it takes its partitions
    // back and its new producer fences the dead one's open transaction. (noida-db never expires
    // a silent member of a dynamic group, so a takeover by the survivors would wait forever.)
    let member_args: Vec<Vec<String>> = (0..3)
        .map(|index| {
            let name = format!("{prefix}-member-{index}");
            let mut extra = vec![
                "--brokers",
                &bootstrap,
                "--stream-session-timeout",
                "6s",
                "--stream-transaction-timeout",
                "6s",
            ];
            if transactional {
                // Transactions of 2 s (instead of 100 ms) so that the kill finds them open.
                extra.extend([
                    "--stream-instance-id",
                    &name,
                    "--stream-commit-interval",
                    "2s",
                ]);
            }
            args(&stream_program_file, &extra)
        })
        .collect();
    // On a transactional broker member 0 runs alone until the drill strikes it, so that an open
    // transaction on the output is surely its own (see `feed_a_third`); the others join after.
    let starting = if transactional { 1 } else { member_args.len() };
    let members = member_args[..starting]
        .iter()
        .map(|args| start_member(args))
        .collect();
    Drill {
        members,
        member_args,
        _embedded: embedded,
        noida,
        _scratch: scratch,
        bootstrap,
        prefix,
        transactional,
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

fn expected_counts() -> (usize, usize) {
    let expected_out = (0..RECORDS).filter(|i| i % 10 != 7).count();
    (expected_out, RECORDS - expected_out)
}

/// Starts writing the feed; returns once a third of the outputs are written, and on a
/// transactional broker only while the output has an open transaction (outputs written, not
/// committed: what exactly-once has to hide if a member dies now). There member 0 is the only
/// member yet, so the open transaction is its own.
fn feed_a_third(drill: &Drill) -> std::thread::JoinHandle<()> {
    let (log, out) = (
        format!("{}-log", drill.prefix),
        format!("{}-out", drill.prefix),
    );
    let writer = {
        let bootstrap = drill.bootstrap.clone();
        std::thread::spawn(move || feed(&bootstrap, &log, 0..RECORDS))
    };
    let (expected_out, _) = expected_counts();
    eventually("the stream is a third of the way", || {
        record_count(&drill.bootstrap, &out, PARTITIONS) >= expected_out / 3
            && !(drill.transactional && settled(&drill.bootstrap, &out, PARTITIONS))
    });
    writer
}

/// Runs the feed, kills member 0 with SIGKILL a third of the way in (and restarts it under its
/// name on a transactional broker), and waits until every record reached the output or the dead
/// letter. Returns (output keys, dead-letter keys).
fn kill_one_mid_stream(drill: &mut Drill) -> (Vec<String>, Vec<String>) {
    let writer = feed_a_third(drill);
    let killed = drill.members[0].pid();
    drill.members[0].kill9();
    let out = format!("{}-out", drill.prefix);
    eprintln!(
        "killed member {killed} with {} of {} outputs written",
        record_count(&drill.bootstrap, &out, PARTITIONS),
        expected_counts().0
    );
    if drill.transactional {
        // Restarted under its name; then the others join, and the group shares what is left.
        // They join once the group has given the returning member its partitions: noida-db
        // 0.2.3 mishandles a static member's return whose JoinGroup races new members' (it
        // keeps the dead member id too, and every later rebalance waits for that member for
        // ever; it never expires a silent member). Reproduced with three plain consumers: 2
        // of 8 groups stalled with concurrent joins, 0 of 12 when the returning member's
        // assignment came first. A Kafka broker replaces the member id (KIP-345) either way.
        drill.members[0] = start_member(&drill.member_args[0]);
        drill.members[0].wait_for_line(|l| l.contains("stream partitions assigned"));
        drill.start_the_others();
    }
    writer.join().unwrap();
    everything_arrives(drill)
}

/// Waits until every record of the feed reached the output or the dead letter (as a reader
/// sees them: see [`read_back`]); returns (output keys, dead-letter keys).
fn everything_arrives(drill: &Drill) -> (Vec<String>, Vec<String>) {
    let (log, out, dlq) = (
        format!("{}-log", drill.prefix),
        format!("{}-out", drill.prefix),
        format!("{}-dlq", drill.prefix),
    );
    let (expected_out, expected_dlq) = expected_counts();
    let bootstrap = drill.bootstrap.clone();
    let started = Instant::now();
    let mut seen = (Vec::new(), Vec::new());
    let all_there = stream_harness::wait_until(Duration::from_secs(120), || {
        // Counting is cheap (high watermarks count at least every record); reading the topics
        // back only once the counts allow it, and on a transactional broker only once no
        // transaction is open, so that what the reader sees is final.
        if record_count(&bootstrap, &out, PARTITIONS) < expected_out
            || record_count(&bootstrap, &dlq, 1) < expected_dlq
            || (drill.transactional
                && !(settled(&bootstrap, &out, PARTITIONS) && settled(&bootstrap, &dlq, 1)))
        {
            std::thread::sleep(Duration::from_millis(200));
            return false;
        }
        seen = read_back(drill);
        distinct(&seen.0).len() == expected_out && distinct(&seen.1).len() == expected_dlq
    });
    if !all_there {
        let (outputs, dead) = read_back(drill);
        let (outputs, dead) = (distinct(&outputs), distinct(&dead));
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
        // Every member's log: on a transactional broker member 0 is the restarted one, and the
        // group can wait on any of them.
        for (index, member) in drill.members.iter().enumerate() {
            eprintln!("--- member {index}'s log:\n{}", member.log().join("\n"));
        }
        if let Some(noida) = &drill.noida {
            eprintln!(
                "--- the broker's group requests:\n{}",
                noida.group_activity()
            );
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
    seen
}

/// The keys of (output, dead letter) as a reader sees them now: `read_committed` on a broker
/// with transactions, everything up to the high watermarks on the embedded one.
fn read_back(drill: &Drill) -> (Vec<String>, Vec<String>) {
    let (out, dlq) = (
        format!("{}-out", drill.prefix),
        format!("{}-dlq", drill.prefix),
    );
    if drill.transactional {
        (
            committed_keys(&drill.bootstrap, &out, PARTITIONS),
            committed_keys(&drill.bootstrap, &dlq, 1),
        )
    } else {
        (
            keys_of(&read_all(&drill.bootstrap, &out, PARTITIONS)),
            keys_of(&read_all(&drill.bootstrap, &dlq, 1)),
        )
    }
}

fn distinct(keys: &[String]) -> BTreeSet<&String> {
    keys.iter().collect()
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
    let mut drill = drill("takeover", false, Broker::Embedded);
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
    let mut drill = drill("exactly", true, Broker::transactional());
    let (out, dlq) = kill_one_mid_stream(&mut drill);
    if drill.transactional {
        read_committed_sees_each_once(&drill, &out, &dlq);
    } else {
        let expected: BTreeSet<String> = (0..RECORDS).map(key).collect();
        let seen: BTreeSet<String> = out.iter().chain(&dlq).cloned().collect();
        assert_eq!(seen, expected, "nothing is lost");
        let repeated = duplicates(&out) + duplicates(&dlq);
        eprintln!(
            "{repeated} duplicates visible: the mock cluster keeps neither transactional offsets \
             nor abort markers; install noida-db or set MESHD_TEST_TRANSACTIONAL_BROKERS to \
             check exactly-once"
        );
    }
    // On a transactional broker member 0 is the restarted one, and the others joined after the
    // kill (the rebalance aborts and replays open transactions too); on the embedded broker the
    // survivors took member 0's partitions over.
    let working = if drill.transactional {
        &drill.members[..1]
    } else {
        &drill.members[1..]
    };
    for member in working {
        assert!(member.metric(&committed_transactions("exactly")) > 0.0);
    }
}

/// A member that stalls while its transaction is open (SIGSTOP: a long GC pause, a frozen VM)
/// and is replaced by a new instance under its name wakes up a zombie: the successor's producer
/// fenced its producer, so what it wrote, and what it tries to write now, stays invisible to
/// `read_committed` readers.
#[test]
fn a_stalled_member_replaced_under_its_name_is_fenced() {
    let broker = Broker::transactional();
    if !matches!(broker, Broker::Transactional(_)) {
        eprintln!("skipped: fencing needs a broker with transactions (see the module doc)");
        return;
    }
    let mut drill = drill("zombie", true, broker);
    let writer = feed_a_third(&drill);
    let zombie = drill.members[0].pid();
    signal(zombie, "-STOP");
    let successor = start_member(&drill.member_args[0]);
    eventually("the successor commits a transaction", || {
        successor.metric(&committed_transactions("zombie")) > 0.0
    });
    assert!(
        !drill.members[0]
            .log()
            .iter()
            .any(|l| l.contains("stream run failed")),
        "the member failed before it was stalled"
    );
    signal(zombie, "-CONT");
    let fenced = drill.members[0].wait_for_line(|l| l.contains("stream run failed"));
    eprintln!("the zombie woke up and failed: {fenced}");
    // Its operator's job: a zombie that keeps its name would fence its successor in turn.
    drill.members[0].kill9();
    drill.members[0] = successor;
    drill.start_the_others();
    writer.join().unwrap();
    let (out, dlq) = everything_arrives(&drill);
    read_committed_sees_each_once(&drill, &out, &dlq);
}

fn committed_transactions(rule: &str) -> String {
    format!("kafka_stream_transactions_total{{rule=\"{rule}\",outcome=\"committed\"}}")
}

/// Sends a signal (`-STOP`, `-CONT`) to one process, by pid.
fn signal(pid: u32, which: &str) {
    let status = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {which} {pid}");
}

/// On a broker with transactions: every record is seen once by a `read_committed` reader, and
/// the drill was not vacuous: a `read_uncommitted` reader sees outputs written twice (one copy
/// in a transaction that was aborted).
fn read_committed_sees_each_once(drill: &Drill, out: &[String], dlq: &[String]) {
    let expected: BTreeSet<String> = (0..RECORDS).map(key).collect();
    let seen: BTreeSet<String> = out.iter().chain(dlq).cloned().collect();
    assert_eq!(seen, expected, "nothing is lost");
    let repeated = duplicates(out) + duplicates(dlq);
    eprintln!(
        "read_committed: {} outputs and {} dead letters, {repeated} duplicates",
        out.len(),
        dlq.len()
    );
    assert_eq!(repeated, 0, "a read_committed reader saw duplicates");
    let out_topic = format!("{}-out", drill.prefix);
    let everything = uncommitted_keys(&drill.bootstrap, &out_topic, PARTITIONS);
    let aborted = duplicates(&everything);
    eprintln!(
        "read_uncommitted: {} outputs, {aborted} written twice (one copy aborted)",
        everything.len()
    );
    assert!(
        aborted > 0,
        "no transaction holding outputs was interrupted: the drill proved nothing"
    );
}
