//! What a `read_committed` consumer sees of a topic that transactional producers write.
//!
//! On a broker with real transactions the high watermark counts commit/abort markers and aborted
//! records too, so "read up to the high watermark" never ends; a `read_committed` consumer stops
//! at the last stable offset instead, and librdkafka says so with a partition EOF.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::ClientConfig;

/// The keys a `read_committed` consumer reads from the beginning of every partition up to its
/// last stable offset, in the order read.
pub fn committed_keys(bootstrap: &str, topic: &str, partitions: i32) -> Vec<String> {
    keys_read(bootstrap, topic, partitions, "read_committed")
}

/// The keys a `read_uncommitted` consumer reads up to the high watermarks: aborted and open
/// transactions' records included.
pub fn uncommitted_keys(bootstrap: &str, topic: &str, partitions: i32) -> Vec<String> {
    keys_read(bootstrap, topic, partitions, "read_uncommitted")
}

fn keys_read(bootstrap: &str, topic: &str, partitions: i32, isolation: &str) -> Vec<String> {
    let consumer = super::from_the_beginning(
        bootstrap,
        topic,
        partitions,
        "test-committed-reader",
        &[
            ("isolation.level", isolation),
            ("enable.partition.eof", "true"),
        ],
    );
    let mut open: BTreeSet<i32> = (0..partitions).collect();
    let mut keys = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !open.is_empty() {
        assert!(
            Instant::now() < deadline,
            "reading {topic} {isolation}: partitions {open:?} never reached their end"
        );
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(message)) => keys.push(
                String::from_utf8(message.key().unwrap_or_default().to_vec()).expect("UTF-8 keys"),
            ),
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                open.remove(&partition);
            }
            Some(Err(error)) => panic!("reading {topic} {isolation}: {error}"),
            None => {}
        }
    }
    keys
}

/// Whether no transaction is open on `topic`: every partition's last stable offset has reached
/// its high watermark, so what [`committed_keys`] returns is final.
pub fn settled(bootstrap: &str, topic: &str, partitions: i32) -> bool {
    let watermarks = |isolation: &str| -> Vec<i64> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("isolation.level", isolation)
            .create()
            .unwrap();
        (0..partitions)
            .map(|partition| {
                consumer
                    .fetch_watermarks(topic, partition, Duration::from_secs(10))
                    .unwrap()
                    .1
            })
            .collect()
    };
    watermarks("read_committed") == watermarks("read_uncommitted")
}
