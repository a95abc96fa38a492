//! Shared by the `stream_*` integration tests: read a topic back and write raw records, over real
//! Kafka protocol against the embedded broker.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

pub mod committed_reader;

/// One record as read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl ReadRecord {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| std::str::from_utf8(value).unwrap())
    }
}

/// A consumer (group `group`, no commits, more `settings`) assigned every partition of `topic`
/// from its first record.
pub fn from_the_beginning(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    group: &str,
    settings: &[(&str, &str)],
) -> BaseConsumer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false");
    for (key, value) in settings {
        config.set(*key, *value);
    }
    let consumer: BaseConsumer = config.create().unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    consumer
}

/// Reads `topic` from the beginning of all `partitions` until `expected` records arrived, or
/// until `patience` ran out (then returns what it has, so the caller's assertion shows the gap).
pub fn read_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    expected: usize,
    patience: Duration,
) -> Vec<ReadRecord> {
    let consumer = from_the_beginning(bootstrap, topic, partitions, "test-reader", &[]);
    let deadline = Instant::now() + patience;
    let mut records = Vec::new();
    while records.len() < expected && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(message)) => records.push(ReadRecord {
                partition: message.partition(),
                offset: message.offset(),
                key: message.key().map(<[u8]>::to_vec),
                value: message.payload().unwrap_or_default().to_vec(),
                headers: message
                    .headers()
                    .map(|headers| {
                        headers
                            .iter()
                            .map(|header| {
                                (
                                    header.key.to_owned(),
                                    header.value.unwrap_or_default().to_vec(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            Some(Err(error)) => panic!("reading {topic}: {error}"),
            None => {}
        }
    }
    records
}

/// Reads what `topic` holds now: everything up to the high watermarks at the time of the call.
pub fn read_all(bootstrap: &str, topic: &str, partitions: i32) -> Vec<ReadRecord> {
    let total = record_count(bootstrap, topic, partitions);
    let records = read_topic(bootstrap, topic, partitions, total, Duration::from_secs(30));
    assert_eq!(records.len(), total, "could not read all of {topic}");
    records
}

/// The number of records in `topic` (sum of high watermarks; topics here are never truncated).
pub fn record_count(bootstrap: &str, topic: &str, partitions: i32) -> usize {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    (0..partitions)
        .map(|partition| {
            let (low, high) = consumer
                .fetch_watermarks(topic, partition, Duration::from_secs(10))
                .unwrap();
            (high - low) as usize
        })
        .sum()
}

/// A record to write: key, value, headers.
pub type RawRecord<'a> = (Option<&'a [u8]>, &'a [u8], &'a [(&'a str, &'a [u8])]);

/// Writes records (key, value, headers) and waits until all are acknowledged.
pub fn produce_raw(bootstrap: &str, topic: &str, records: &[RawRecord<'_>]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for (key, value, headers) in records {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(*value);
        if let Some(key) = key {
            record = record.key(*key);
        }
        if !headers.is_empty() {
            let mut owned = OwnedHeaders::new_with_capacity(headers.len());
            for (name, value) in *headers {
                owned = owned.insert(Header {
                    key: name,
                    value: Some(*value),
                });
            }
            record = record.headers(owned);
        }
        let mut pending = record;
        loop {
            match producer.send(pending) {
                Ok(()) => break,
                Err((_, back)) => {
                    producer.poll(Duration::from_millis(10));
                    pending = back;
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Polls `condition` until it holds or `patience` runs out; returns whether it held.
pub fn wait_until(patience: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Bundles with only what the stream tests need.
pub mod bundles {
    use meshwork_bundle::{
        Balance, Bundle, CompilerInfo, Deliver, Service, SourceLocation, Stream, StreamSink,
        StreamSource, Topic,
    };

    pub fn location() -> SourceLocation {
        SourceLocation {
            file: "streams.mesh".into(),
            line: 1,
            column: 1,
        }
    }

    pub fn empty() -> Bundle {
        Bundle::new(CompilerInfo {
            name: "meshc".into(),
            version: "0.1.0".into(),
        })
    }

    pub fn topic(name: &str, partitions: u64) -> Topic {
        Topic {
            name: name.into(),
            external: false,
            partitions: Some(partitions),
            schema: None,
            source: location(),
        }
    }

    /// `from` → `when` → `to`, with a dead letter.
    pub fn filter_stream(
        name: &str,
        from: &str,
        when: &str,
        to: &str,
        dead_letter: &str,
    ) -> Stream {
        Stream {
            name: name.into(),
            from: StreamSource {
                topic: from.into(),
                group: format!("{name}-group"),
            },
            when: Some(when.into()),
            to: Some(StreamSink {
                topic: to.into(),
                key: None,
                value: None,
                exactly_once: false,
            }),
            deliver: None,
            dead_letter: Some(dead_letter.into()),
            source: location(),
        }
    }

    /// `from` → deliver to `service`, with a dead letter.
    pub fn deliver_stream(
        name: &str,
        from: &str,
        service: &str,
        retry: u64,
        dead_letter: &str,
    ) -> Stream {
        Stream {
            name: name.into(),
            from: StreamSource {
                topic: from.into(),
                group: format!("{name}-group"),
            },
            when: None,
            to: None,
            deliver: Some(Deliver {
                service: service.into(),
                path: "/events".into(),
                concurrency: 4,
                retry,
                backoff_min_ms: 5,
                backoff_max_ms: 20,
            }),
            dead_letter: Some(dead_letter.into()),
            source: location(),
        }
    }

    pub fn service(name: &str, endpoints: &[String]) -> Service {
        Service {
            name: name.into(),
            endpoints: endpoints.to_vec(),
            balance: Balance::RoundRobin,
            timeout_ms: 2_000,
            retry: None,
            circuit_breaker: None,
            health_check: None,
            identity: None,
            protocol: Default::default(),
            source: location(),
        }
    }
}
