//! Exactly once for topic → topic streams: each run of the stream is a Kafka transactional
//! producer doing read-process-write as Kafka Streams' `exactly_once_v2` does. The republished
//! records, the dead letters and the source offsets (sent with the consumer's group metadata, so
//! a member that lost its partitions is fenced by the group generation) commit in one
//! transaction per commit interval; readers with `isolation.level=read_committed` see each
//! record once.
//!
//! A run that cannot commit aborts its transaction and ends; the next run resumes from the
//! offsets of the last committed transaction, and the aborted outputs stay invisible to
//! `read_committed` readers. A crashed instance's open transaction is aborted by the broker after
//! the transaction timeout (or at once when the same process starts a new run: the
//! `transactional.id` is stable per stream and process, so `init_transactions` fences it), and
//! its partitions' new owner waits for that before reading the committed offsets.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::group_watch::GroupWatch;
use crate::stream::metrics::StreamTally;
use crate::stream::rule::StreamRule;

/// How long a transaction may stay open before the broker aborts it: a crashed instance's
/// partitions move on after this (on top of the session timeout).
pub const DEFAULT_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Adds the transactional settings to a stream's producer configuration.
pub(crate) fn transactional_settings(
    config: &mut ClientConfig,
    rule: &StreamRule,
    transaction_timeout: Duration,
    instance_id: Option<&str>,
) {
    config
        .set("transactional.id", transactional_id(rule, instance_id))
        .set(
            "transaction.timeout.ms",
            transaction_timeout.as_millis().max(1_000).to_string(),
        )
        .set("enable.idempotence", "true");
}

/// `meshwork-<group>-<stream>-<instance>` with `--stream-instance-id`: stable across restarts,
/// so a restarted instance fences its crashed predecessor's open transaction at once. Without
/// it `meshwork-<group>-<stream>-<host>-<pid>`: stable across the process's runs (a new run
/// fences its predecessor at once), while a crashed process's transaction waits for the broker's
/// transaction timeout.
pub(crate) fn transactional_id(rule: &StreamRule, instance_id: Option<&str>) -> String {
    if let Some(instance) = instance_id {
        return format!("meshwork-{}-{}-{instance}", rule.group, rule.name);
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "meshd".to_owned());
    format!(
        "meshwork-{}-{}-{host}-{}",
        rule.group,
        rule.name,
        std::process::id()
    )
}

/// Why a transaction step failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransactionError {
    /// librdkafka refused (fenced, timed out, aborted by the broker, …).
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// The consumer has no group metadata yet (not in the group): nothing may be committed.
    #[error("the consumer is not in its group")]
    NoGroupMetadata,
}

/// Moves every assigned partition back to its committed offset (the earliest record for a
/// partition with none), so records whose outputs were aborted are read again.
pub(crate) fn rewind_to_committed(
    consumer: &BaseConsumer<GroupWatch>,
    timeout: Duration,
) -> Result<(), KafkaError> {
    let assignment = consumer.assignment()?;
    if assignment.count() == 0 {
        return Ok(());
    }
    let committed = consumer.committed_offsets(assignment, timeout)?;
    let mut positions = TopicPartitionList::with_capacity(committed.count());
    for element in committed.elements() {
        let offset = match element.offset() {
            Offset::Offset(offset) => Offset::Offset(offset),
            _ => Offset::Beginning,
        };
        positions.add_partition_offset(element.topic(), element.partition(), offset)?;
    }
    consumer.seek_partitions(positions, timeout)?;
    Ok(())
}

/// The open transaction of one run.
pub(crate) struct StreamTransaction {
    timeout: Duration,
    /// Whether anything was read since the transaction began.
    dirty: bool,
}

impl StreamTransaction {
    /// Registers the producer's transactional id (fencing an older producer with the same id)
    /// and begins the first transaction.
    pub(crate) fn start<C: ProducerContext + 'static>(
        producer: &ThreadedProducer<C>,
        timeout: Duration,
    ) -> Result<Self, KafkaError> {
        producer.init_transactions(timeout)?;
        producer.begin_transaction()?;
        Ok(StreamTransaction {
            timeout,
            dirty: false,
        })
    }

    /// Notes that a record was read inside the transaction.
    pub(crate) fn touched(&mut self) {
        self.dirty = true;
    }

    /// Whether the transaction holds anything to commit.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Commits the outputs sent so far with `offsets` (next offset to read per partition of
    /// `topic`), then begins the next transaction.
    pub(crate) fn commit<C: ProducerContext + 'static>(
        &mut self,
        producer: &ThreadedProducer<C>,
        consumer: &BaseConsumer<GroupWatch>,
        topic: &str,
        offsets: &[(i32, i64)],
        tally: &StreamTally,
    ) -> Result<(), TransactionError> {
        if !offsets.is_empty() {
            let mut list = TopicPartitionList::with_capacity(offsets.len());
            for (partition, offset) in offsets {
                list.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
            }
            let group = consumer
                .group_metadata()
                .ok_or(TransactionError::NoGroupMetadata)?;
            producer.send_offsets_to_transaction(&list, &group, self.timeout)?;
        }
        producer.commit_transaction(self.timeout)?;
        tally.transaction("committed");
        self.dirty = false;
        Ok(producer.begin_transaction()?)
    }

    /// Aborts what was sent since the last commit (it stays invisible to `read_committed`
    /// readers) and begins the next transaction.
    pub(crate) fn abort<C: ProducerContext + 'static>(
        &mut self,
        producer: &ThreadedProducer<C>,
        tally: &StreamTally,
    ) -> Result<(), KafkaError> {
        producer.abort_transaction(self.timeout)?;
        tally.transaction("aborted");
        self.dirty = false;
        producer.begin_transaction()
    }
}
