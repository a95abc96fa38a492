//! `EventProducer` against the embedded broker over TCP: exact round trips, sync vs async, and
//! broker faults that must surface as failures, never as a success.

mod stream_harness;

use std::time::Duration;

use meshd::stream::{
    BrokerFault, BrokerProgram, EventProducer, EventRecord, KafkaCluster, KafkaMetrics,
    ProduceError, ProduceOutcome, ProducerOptions, RecordHeaders,
};
use meshwork_bundle::{Acks, ProduceMode};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use stream_harness::{read_topic, record_count};

fn cluster_with_topic(topic: &str, partitions: i32) -> KafkaCluster {
    let cluster = KafkaCluster::embedded(&BrokerProgram::at(env!("CARGO_BIN_EXE_meshd"))).unwrap();
    cluster
        .embedded_broker()
        .unwrap()
        .create_topic(topic, partitions)
        .unwrap();
    cluster
}

fn record<'a>(topic: &'a str, key: &'a [u8], value: &'a [u8]) -> EventRecord<'a> {
    EventRecord {
        topic,
        key: Some(key),
        value,
        headers: RecordHeaders::none(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_send_reports_the_offset_and_the_record_reads_back_exactly() {
    let cluster = cluster_with_topic("orders", 3);
    let producer = EventProducer::new(&cluster, ProducerOptions::default()).unwrap();
    let metrics = KafkaMetrics::default();
    let tally = metrics.produce_tally("orders", "place_order");
    let headers = RecordHeaders::with_capacity(2)
        .push("x-ship", b"enterprise")
        .push("content-type", b"application/json");
    let outcome = producer
        .send(
            EventRecord {
                topic: "orders",
                key: Some(b"ncc-1701"),
                value: br#"{"stardate":41153.7}"#,
                headers,
            },
            Acks::All,
            ProduceMode::Sync,
            Some(&tally),
        )
        .await
        .unwrap();
    let ProduceOutcome::Delivered(delivered) = outcome else {
        panic!("sync send answered {outcome:?}");
    };
    assert_eq!(tally.acknowledged_count(), 1);

    let records = read_topic(
        cluster.bootstrap_servers(),
        "orders",
        3,
        1,
        Duration::from_secs(20),
    );
    assert_eq!(records.len(), 1);
    let read = &records[0];
    assert_eq!(
        (read.partition, read.offset),
        (delivered.partition, delivered.offset)
    );
    assert_eq!(read.key.as_deref(), Some(&b"ncc-1701"[..]));
    assert_eq!(read.value, br#"{"stardate":41153.7}"#);
    assert_eq!(
        read.headers,
        vec![
            ("x-ship".to_owned(), b"enterprise".to_vec()),
            ("content-type".to_owned(), b"application/json".to_vec()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_acks_level_delivers() {
    let cluster = cluster_with_topic("levels", 1);
    let producer = EventProducer::new(&cluster, ProducerOptions::default()).unwrap();
    for (acks, key) in [
        (Acks::None, "zero"),
        (Acks::Leader, "one"),
        (Acks::All, "all"),
    ] {
        let outcome = producer
            .send(
                record("levels", key.as_bytes(), b"v"),
                acks,
                ProduceMode::Sync,
                None,
            )
            .await
            .unwrap();
        assert!(
            matches!(outcome, ProduceOutcome::Delivered(_)),
            "{acks:?}: {outcome:?}"
        );
    }
    let records = read_topic(
        cluster.bootstrap_servers(),
        "levels",
        1,
        3,
        Duration::from_secs(20),
    );
    let mut keys: Vec<_> = records.iter().map(|r| r.key.clone().unwrap()).collect();
    keys.sort();
    assert_eq!(keys, [b"all".to_vec(), b"one".to_vec(), b"zero".to_vec()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_send_answers_queued_and_the_record_still_arrives() {
    let cluster = cluster_with_topic("audit", 2);
    let producer = EventProducer::new(&cluster, ProducerOptions::default()).unwrap();
    let outcome = producer
        .send(
            record("audit", b"k", b"queued"),
            Acks::All,
            ProduceMode::Async,
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome, ProduceOutcome::Queued);
    let records = read_topic(
        cluster.bootstrap_servers(),
        "audit",
        2,
        1,
        Duration::from_secs(20),
    );
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value, b"queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_send_is_answered_while_the_broker_is_down_but_sync_is_not() {
    let cluster = cluster_with_topic("outage", 1);
    let options = ProducerOptions {
        delivery_timeout: Duration::from_millis(1500),
        ..ProducerOptions::default()
    };
    let producer = EventProducer::new(&cluster, options).unwrap();
    // Warm the connection so the outage hits an established client.
    producer
        .send(
            record("outage", b"k", b"before"),
            Acks::All,
            ProduceMode::Sync,
            None,
        )
        .await
        .unwrap();
    let broker = cluster.embedded_broker().unwrap();
    broker.inject(BrokerFault::AllBrokersDown).unwrap();

    let queued = producer
        .send(
            record("outage", b"k", b"async"),
            Acks::All,
            ProduceMode::Async,
            None,
        )
        .await
        .unwrap();
    assert_eq!(queued, ProduceOutcome::Queued);
    let sync = producer
        .send(
            record("outage", b"k", b"sync"),
            Acks::All,
            ProduceMode::Sync,
            None,
        )
        .await;
    assert!(
        matches!(sync, Err(ProduceError::Timeout(_))),
        "sync send during an outage answered {sync:?}"
    );
    assert!(sync.unwrap_err().retry_after() >= Duration::from_secs(1));

    broker.inject(BrokerFault::AllBrokersUp).unwrap();
    // Nothing from the outage reached the topic: the timed-out records must not appear later.
    // A patient producer writes the marker, so reconnection time cannot fail the test.
    let patient = EventProducer::new(&cluster, ProducerOptions::default()).unwrap();
    patient
        .send(
            record("outage", b"k", b"after"),
            Acks::All,
            ProduceMode::Sync,
            None,
        )
        .await
        .unwrap();
    let records = read_topic(
        cluster.bootstrap_servers(),
        "outage",
        1,
        2,
        Duration::from_secs(20),
    );
    let values: Vec<_> = records.iter().map(|r| r.value.clone()).collect();
    assert_eq!(values, [b"before".to_vec(), b"after".to_vec()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_broker_refuses_fails_and_is_not_stored() {
    let cluster = cluster_with_topic("guarded", 1);
    let producer = EventProducer::new(&cluster, ProducerOptions::default()).unwrap();
    let metrics = KafkaMetrics::default();
    let tally = metrics.produce_tally("guarded", "guarded_route");
    producer
        .send(
            record("guarded", b"k", b"warm"),
            Acks::All,
            ProduceMode::Sync,
            None,
        )
        .await
        .unwrap();
    cluster
        .embedded_broker()
        .unwrap()
        .inject(BrokerFault::RequestErrors(
            RDKafkaApiKey::Produce,
            vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED],
        ))
        .unwrap();
    let refused = producer
        .send(
            record("guarded", b"k", b"refused"),
            Acks::All,
            ProduceMode::Sync,
            Some(&tally),
        )
        .await;
    assert!(
        matches!(refused, Err(ProduceError::Broker(_))),
        "{refused:?}"
    );
    assert_eq!(tally.acknowledged_count(), 0);
    assert_eq!(record_count(cluster.bootstrap_servers(), "guarded", 1), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_refused_at_once() {
    let cluster = cluster_with_topic("slow", 1);
    let options = ProducerOptions {
        queue_capacity: 5,
        delivery_timeout: Duration::from_millis(1000),
        ..ProducerOptions::default()
    };
    let producer = EventProducer::new(&cluster, options).unwrap();
    cluster
        .embedded_broker()
        .unwrap()
        .inject(BrokerFault::AllBrokersDown)
        .unwrap();
    let mut refused = None;
    for _ in 0..6 {
        match producer.enqueue(
            record("slow", b"k", b"v"),
            Acks::All,
            ProduceMode::Sync,
            None,
        ) {
            Ok(_wait) => {}
            Err(error) => {
                refused = Some(error);
                break;
            }
        }
    }
    assert_eq!(refused, Some(ProduceError::QueueFull));
}
