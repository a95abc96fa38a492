//! Kafka throughput against the embedded broker (librdkafka's mock cluster, in-process, over TCP):
//!
//! - `raw-producer`: a bare rdkafka `BaseProducer`, 100-byte records, acks all: the ceiling.
//! - `event-producer-async` / `event-producer-sync`: meshd's `EventProducer` as the HTTP → Kafka
//!   route uses it (sync: 512 concurrent waiters, each answered after its delivery report).
//! - `consume`: a bare `BaseConsumer` in a group reading 100-byte records: the read ceiling.
//! - `stream`: a stream filtering 100-byte JSON records with
//!   `event.value.severity == "red"` (half match) and republishing the matches, at least once
//!   with the default commit window; `stream-wide-window`: the same with the wider window meshd
//!   used before; `stream-exactly-once`: the same stream in Kafka transactions.
//!
//! Run: `cargo bench -p meshd --bench stream_throughput [-- SCENARIO…]`. Figures go to stdout.
//! `MESHD_BENCH_BROKERS=host:port` runs the stream scenarios against that cluster instead (the
//! embedded broker's transactions do none of a real broker's work: `bench/stream_exactly_once.sh`
//! starts a broker with real transactions for them); `MESHD_BENCH_RECORDS` sets their size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use meshd::stream::{
    BrokerProgram, EventProducer, EventRecord, KafkaCluster, KafkaMetrics, KafkaSettings,
    ProducerOptions, RecordHeaders, StreamOptions, StreamSupervisor,
};
use meshwork_bundle::{
    Acks, Bundle, CompilerInfo, ProduceMode, SourceLocation, Stream, StreamSink, StreamSource,
    Topic,
};
use prometheus_client::registry::Registry;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

/// The mock cluster keeps about 5 MiB per partition and drops older records, so a preloaded
/// topic needs enough partitions to hold the whole run (1M records of 100 bytes: 64).
const PARTITIONS: i32 = 64;

const PAYLOAD: &[u8] = b"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789";

fn main() {
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let wants = |name: &str| chosen.is_empty() || chosen.iter().any(|c| c == name);
    if wants("raw-producer") {
        raw_producer(2_000_000);
    }
    if wants("event-producer-async") {
        event_producer_async(1_000_000);
    }
    if wants("event-producer-sync") {
        event_producer_sync(300_000, 512);
    }
    if wants("consume") {
        consume_only(1_000_000);
    }
    let stream_records = std::env::var("MESHD_BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    if wants("stream") {
        stream("stream", stream_records, false, StreamOptions::default());
    }
    if wants("stream-wide-window") {
        // The defaults before the at-least-once window was shrunk: 20 000 in flight, commits
        // every 10 000 records or 200 ms.
        let wide = StreamOptions {
            max_in_flight: 20_000,
            commit_every: 10_000,
            commit_interval: Duration::from_millis(200),
            ..StreamOptions::default()
        };
        stream("stream-wide-window", stream_records, false, wide);
    }
    if wants("stream-exactly-once") {
        stream(
            "stream-exactly-once",
            stream_records,
            true,
            StreamOptions::default(),
        );
    }
}

fn report(scenario: &str, records: usize, elapsed: Duration) {
    println!(
        "{scenario:<22} {records:>9} records in {:>7.3} s = {:>9.0} records/s",
        elapsed.as_secs_f64(),
        records as f64 / elapsed.as_secs_f64()
    );
}

/// The cluster named by `MESHD_BENCH_BROKERS`, if any.
fn external_brokers() -> Option<String> {
    std::env::var("MESHD_BENCH_BROKERS")
        .ok()
        .filter(|b| !b.is_empty())
}

fn cluster_with(topics: &[(&str, i32)]) -> KafkaCluster {
    if let Some(brokers) = external_brokers() {
        create_external_topics(&brokers, topics);
        return KafkaCluster::external(&brokers, KafkaSettings::default()).expect("brokers");
    }
    let cluster = KafkaCluster::embedded(&BrokerProgram::at(env!("CARGO_BIN_EXE_meshd")))
        .expect("embedded broker");
    for (name, partitions) in topics {
        cluster
            .embedded_broker()
            .expect("embedded")
            .create_topic(name, *partitions)
            .expect("topic");
    }
    cluster
}

fn create_external_topics(brokers: &str, topics: &[(&str, i32)]) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    let results = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(admin.create_topics(&new, &AdminOptions::new()))
        .expect("create topics");
    for result in results {
        result.expect("topic created");
    }
}

fn fast_producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer")
}

/// Sends `count` records from `value`, serving reports whenever the queue fills, then flushes.
fn produce_all(
    producer: &BaseProducer,
    (topic, partitions): (&str, i32),
    count: usize,
    value: impl Fn(usize) -> Vec<u8>,
) {
    for index in 0..count {
        let payload = value(index);
        // Spread evenly: the mock's retention is per partition.
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
            .payload(&payload[..])
            .partition((index % partitions as usize) as i32);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    producer.poll(Duration::from_millis(1));
                    record = back;
                }
            }
        }
        if index % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
}

fn raw_producer(count: usize) {
    let cluster = cluster_with(&[("raw", 3)]);
    let producer = fast_producer(cluster.bootstrap_servers());
    let started = Instant::now();
    produce_all(&producer, ("raw", 3), count, |_| PAYLOAD.to_vec());
    report("raw-producer", count, started.elapsed());
}

fn event_producer_async(count: usize) {
    let cluster = cluster_with(&[("events", 3)]);
    let producer = EventProducer::new(
        &cluster,
        ProducerOptions {
            queue_capacity: 1_000_000,
            ..ProducerOptions::default()
        },
    )
    .expect("producer");
    let metrics = KafkaMetrics::default();
    let tally = metrics.produce_tally("events", "bench");
    let started = Instant::now();
    for _ in 0..count {
        let record = EventRecord {
            topic: "events",
            key: None,
            value: PAYLOAD,
            headers: RecordHeaders::none(),
        };
        while producer
            .enqueue(
                record_copy(&record),
                Acks::All,
                ProduceMode::Async,
                Some(&tally),
            )
            .is_err()
        {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    assert_eq!(tally.acknowledged_count(), count as u64);
    report("event-producer-async", count, started.elapsed());
}

fn record_copy<'a>(record: &EventRecord<'a>) -> EventRecord<'a> {
    EventRecord {
        topic: record.topic,
        key: record.key,
        value: record.value,
        headers: RecordHeaders::none(),
    }
}

fn event_producer_sync(count: usize, concurrency: usize) {
    let cluster = cluster_with(&[("events", 3)]);
    let producer = EventProducer::new(&cluster, ProducerOptions::default()).expect("producer");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let per_task = count / concurrency;
    let started = Instant::now();
    runtime.block_on(async {
        let mut tasks = Vec::with_capacity(concurrency);
        for _ in 0..concurrency {
            let producer = producer.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..per_task {
                    let record = EventRecord {
                        topic: "events",
                        key: Some(b"key"),
                        value: PAYLOAD,
                        headers: RecordHeaders::none(),
                    };
                    producer
                        .send(record, Acks::All, ProduceMode::Sync, None)
                        .await
                        .expect("delivered");
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
    });
    report(
        "event-producer-sync",
        per_task * concurrency,
        started.elapsed(),
    );
}

fn consume_only(count: usize) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let cluster = cluster_with(&[("log", PARTITIONS)]);
    let producer = fast_producer(cluster.bootstrap_servers());
    produce_all(&producer, ("log", PARTITIONS), count, |_| PAYLOAD.to_vec());
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", "plain")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.queue.backoff.ms", "10")
        .create()
        .expect("consumer");
    consumer.subscribe(&["log"]).expect("subscribe");
    let lows: i64 = (0..PARTITIONS)
        .map(|p| {
            consumer
                .fetch_watermarks("log", p, Duration::from_secs(5))
                .expect("wm")
                .0
        })
        .sum();
    eprintln!("consume: {lows} records already dropped by the mock's retention");
    let mut read = 0;
    let mut started = None;
    let mut last_report = Instant::now();
    while read < count {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => {
                started.get_or_insert_with(Instant::now);
                read += 1;
            }
            Some(Err(error)) => eprintln!("consume: {error}"),
            None => {}
        }
        if last_report.elapsed() > Duration::from_secs(1) {
            eprintln!("consume: {read} read");
            last_report = Instant::now();
        }
    }
    report("consume", count, started.expect("read").elapsed());
}

fn location() -> SourceLocation {
    SourceLocation {
        file: "bench.mesh".into(),
        line: 1,
        column: 1,
    }
}

fn stream(label: &str, count: usize, exactly_once: bool, options: StreamOptions) {
    // A real cluster keeps what earlier scenarios wrote: each scenario has topics of its own.
    // (The mock's retention is why the embedded broker needs 64 partitions; a real one does not.)
    let partitions = if external_brokers().is_some() {
        8
    } else {
        PARTITIONS
    };
    let [log, red, dlq] = ["log", "red", "dlq"].map(|topic| format!("{label}-{topic}"));
    let cluster = Arc::new(cluster_with(&[
        (&log, partitions),
        (&red, partitions),
        (&dlq, 1),
    ]));
    let producer = fast_producer(cluster.bootstrap_servers());
    produce_all(&producer, (&log, partitions), count, |index| {
        let severity = if index % 2 == 0 { "red" } else { "green" };
        // 100 bytes of JSON.
        format!(r#"{{"id":"{index:08}","severity":"{severity}","ship":"enterprise","note":"captain log, stardate 41153.7 ##"}}"#)
            .into_bytes()
    });
    let mut bundle = Bundle::new(CompilerInfo {
        name: "meshc".into(),
        version: "0.1.0".into(),
    });
    bundle.topics = [&log, &red, &dlq]
        .iter()
        .map(|name| Topic {
            name: (*name).clone(),
            external: false,
            partitions: Some(partitions as u64),
            schema: None,
            source: location(),
        })
        .collect();
    bundle.streams = vec![Stream {
        name: "red_alerts".into(),
        from: StreamSource {
            topic: log.clone(),
            group: format!("{label}-bench"),
        },
        when: Some(r#"event.value.severity == "red""#.into()),
        to: Some(StreamSink {
            topic: red.clone(),
            key: None,
            value: None,
            exactly_once,
        }),
        deliver: None,
        dead_letter: Some(dlq.clone()),
        source: location(),
    }];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut registry = Registry::default();
    let metrics = KafkaMetrics::register(&mut registry);
    let mut supervisor = StreamSupervisor::new(
        Arc::clone(&cluster),
        metrics,
        options,
        runtime.handle().clone(),
    );
    supervisor.apply(&bundle).expect("stream");
    let consumed = || {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        text.lines()
            .find(|line| line.starts_with("kafka_consumed_records_total"))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|number| number.parse::<usize>().ok())
            .unwrap_or(0)
    };
    let produced = || {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        text.lines()
            .find(|line| line.starts_with("kafka_produced_records_total"))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|number| number.parse::<usize>().ok())
            .unwrap_or(0)
    };
    // Time from the first records read (the group join is not throughput) to the last match
    // acknowledged.
    while consumed() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let started = Instant::now();
    let first = consumed();
    while produced() < count / 2 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    supervisor.shutdown();
    report(label, count - first, elapsed);
}
