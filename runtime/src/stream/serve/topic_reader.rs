//! One client's reader of a topic: a librdkafka consumer of its own, assigned every partition at
//! the client's start position (no group membership, so no rebalance ever moves it).
//!
//! One consumer per client, rather than one per topic fanned out: every client can resume from
//! its own position (a reconnect with `Last-Event-ID` hours later reads from there, not from
//! where a shared consumer happens to be), a slow client only ever holds up its own reader, and
//! what one client is owed is bounded by its own fetch queue (`queued.max.messages.kbytes`).
//! The cost is a librdkafka client (a few threads) per connected client, which is why a route
//! caps its clients (`clients N`).

use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Offset, TopicPartitionList};

use crate::stream::broker::KafkaCluster;

use super::position::Position;

/// How long a metadata, watermark or committed-offsets request may take.
const BROKER_QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// What librdkafka may prefetch for one client, in KiB: the bound on what a client holds in
/// meshd's memory before its own queue (the route's `buffer`).
const PREFETCH_KIB: &str = "1024";

/// Where a client starts reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Records produced from now on (the default).
    Latest,
    /// Everything the topic still holds.
    Earliest,
    /// Just after what the client already has (`Last-Event-ID`, `?from=`).
    At(Position),
    /// Where the client's consumer group left off (new records when it has no commit yet).
    Group,
}

/// Records a client asked for that the broker no longer has (older than the topic's retention):
/// offsets `from..to` of `partition`. The client is told; it resumes at `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The partition.
    pub partition: i32,
    /// The first offset asked for.
    pub from: i64,
    /// The first offset the broker still has.
    pub to: i64,
}

/// A reader, positioned.
pub struct Opened {
    /// The reader.
    pub reader: TopicReader,
    /// The client's position: every partition named.
    pub position: Position,
    /// What retention deleted of what the client asked for.
    pub gaps: Vec<Gap>,
}

/// Why a reader could not start or read.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// The Kafka client failed (broker unreachable, topic unknown, …).
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The topic is not in the cluster's metadata.
    #[error("topic `{0}` is not available in the cluster")]
    NoTopic(String),
    /// The blocking query task did not finish.
    #[error("the Kafka query task failed")]
    Task,
}

/// A client's consumer, assigned and positioned.
pub struct TopicReader {
    consumer: StreamConsumer,
    topic: String,
    group: bool,
}

impl std::fmt::Debug for TopicReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicReader")
            .field("topic", &self.topic)
            .finish()
    }
}

impl TopicReader {
    /// Creates the consumer, finds the topic's partitions and where `start` puts the client in
    /// each, and assigns them there. Returns the reader, the client's position (every
    /// partition named, so the first event's id is already complete) and any gap retention left. `group` is the Kafka
    /// consumer group whose commits the client resumes from and moves (when it asked for one).
    pub async fn open(
        cluster: &KafkaCluster,
        client_id: &str,
        topic: &str,
        start: Start,
        group: Option<String>,
    ) -> Result<Opened, ReaderError> {
        let mut config = cluster.client_config();
        config
            .set("client.id", client_id)
            .set(
                "group.id",
                group.as_deref().unwrap_or("meshd-serve-unused-group"),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            // A position older than the topic's retention starts at the oldest record left.
            .set("auto.offset.reset", "earliest")
            .set("queued.max.messages.kbytes", PREFETCH_KIB)
            .set("fetch.max.bytes", "1048576")
            .set("fetch.wait.max.ms", "100")
            .set_log_level(RDKafkaLogLevel::Warning);
        let consumer: StreamConsumer = config.create()?;
        let topic_name = topic.to_owned();
        let has_group = group.is_some();
        let (consumer, position, gaps) = tokio::task::spawn_blocking(move || {
            let (position, gaps) = resolve_start(&consumer, &topic_name, &start, has_group)?;
            let mut assignment = TopicPartitionList::new();
            for (partition, offset) in position.iter() {
                assignment.add_partition_offset(&topic_name, partition, Offset::Offset(offset))?;
            }
            consumer.assign(&assignment)?;
            Ok::<_, ReaderError>((consumer, position, gaps))
        })
        .await
        .map_err(|_| ReaderError::Task)??;
        Ok(Opened {
            reader: TopicReader {
                consumer,
                topic: topic.to_owned(),
                group: has_group,
            },
            position,
            gaps,
        })
    }

    /// The next record of any partition.
    pub async fn recv(&self) -> Result<BorrowedMessage<'_>, KafkaError> {
        self.consumer.recv().await
    }

    /// Commits `position` for the client's group (nothing without a group) and waits for the
    /// broker's answer, off the async threads: a long-poll answer is sent only once the group's
    /// next request would start after it.
    pub async fn commit_and_close(self, position: Position) {
        if !self.group {
            return;
        }
        let committed = tokio::task::spawn_blocking(move || {
            self.commit_with(&position, CommitMode::Sync);
        })
        .await;
        if committed.is_err() {
            tracing::debug!("serve: the group commit task failed");
        }
    }

    /// Commits `position` for the client's group (nothing without a group). Asynchronous: a
    /// failed commit only means the next connection of the group re-reads a little.
    pub fn commit(&self, position: &Position) {
        self.commit_with(position, CommitMode::Async);
    }

    fn commit_with(&self, position: &Position, mode: CommitMode) {
        if !self.group {
            return;
        }
        let mut offsets = TopicPartitionList::new();
        for (partition, offset) in position.iter() {
            if offsets
                .add_partition_offset(&self.topic, partition, Offset::Offset(offset))
                .is_err()
            {
                return;
            }
        }
        if let Err(error) = self.consumer.commit(&offsets, mode) {
            tracing::debug!(%error, topic = %self.topic, "serve: group commit failed");
        }
    }
}

/// Every partition of `topic` with the offset `start` begins at, and the gaps retention left
/// (blocking broker queries).
fn resolve_start(
    consumer: &StreamConsumer,
    topic: &str,
    start: &Start,
    group: bool,
) -> Result<(Position, Vec<Gap>), ReaderError> {
    let metadata = consumer.fetch_metadata(Some(topic), BROKER_QUERY_TIMEOUT)?;
    let described = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .ok_or_else(|| ReaderError::NoTopic(topic.to_owned()))?;
    let partitions: Vec<i32> = described.partitions().iter().map(|p| p.id()).collect();
    let committed = match start {
        Start::Group if group => {
            let mut wanted = TopicPartitionList::new();
            for partition in &partitions {
                wanted.add_partition(topic, *partition);
            }
            Some(consumer.committed_offsets(wanted, BROKER_QUERY_TIMEOUT)?)
        }
        _ => None,
    };
    let mut position = Position::default();
    let mut gaps = Vec::new();
    for partition in partitions {
        let (low, high) = consumer.fetch_watermarks(topic, partition, BROKER_QUERY_TIMEOUT)?;
        let committed = committed
            .as_ref()
            .and_then(|c| c.find_partition(topic, partition))
            .and_then(|p| match p.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            });
        let (offset, gap) = start_offset(start, partition, (low, high), committed);
        position.set(partition, offset);
        gaps.extend(gap);
    }
    Ok((position, gaps))
}

/// Where one partition starts given its watermarks (`low`, `high`) and the group's commit, and
/// the records the client asked for that retention has already deleted.
fn start_offset(
    start: &Start,
    partition: i32,
    (low, high): (i64, i64),
    committed: Option<i64>,
) -> (i64, Option<Gap>) {
    let asked = match start {
        Start::Latest => return (high, None),
        Start::Earliest => return (low, None),
        // A partition the position does not name is newer than it: all of it is new.
        Start::At(at) => at.next_offset(partition).unwrap_or(low),
        Start::Group => match committed {
            Some(offset) => offset,
            None => return (high, None),
        },
    };
    let gap = (asked < low).then_some(Gap {
        partition,
        from: asked,
        to: low,
    });
    (asked.clamp(low, high), gap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_resumes_where_it_says_within_the_watermarks() {
        let at = Start::At(Position::parse("0:5,1:40").unwrap());
        assert_eq!(start_offset(&at, 0, (0, 10), None), (5, None));
        // Past the end (a recreated topic): the end.
        assert_eq!(start_offset(&at, 1, (0, 10), None), (10, None));
        // A partition the position does not name is new: from its start.
        assert_eq!(start_offset(&at, 2, (3, 10), None), (3, None));
    }

    #[test]
    fn records_already_deleted_are_reported_as_a_gap() {
        let at = Start::At(Position::parse("0:5").unwrap());
        let gap = Gap {
            partition: 0,
            from: 5,
            to: 8,
        };
        assert_eq!(start_offset(&at, 0, (8, 10), None), (8, Some(gap.clone())));
        assert_eq!(
            start_offset(&Start::Group, 0, (8, 10), Some(5)),
            (8, Some(gap))
        );
    }

    #[test]
    fn a_group_without_a_commit_starts_at_new_records() {
        assert_eq!(start_offset(&Start::Group, 0, (2, 10), None), (10, None));
        assert_eq!(
            start_offset(&Start::Latest, 0, (2, 10), Some(4)),
            (10, None)
        );
        assert_eq!(start_offset(&Start::Earliest, 0, (2, 10), None), (2, None));
    }
}
