//! The stream consumer's context: it notes revocations and assignments for the stream thread to
//! act on after `poll` returns, and publishes consumer lag from librdkafka's statistics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::statistics::Statistics;
use rdkafka::ClientContext;

use crate::stream::metrics::StreamTally;

/// What the group told the consumer since the stream thread last looked.
pub(crate) struct GroupWatch {
    topic: String,
    revoked: Mutex<Vec<i32>>,
    any_revoked: AtomicBool,
    assigned: AtomicBool,
    tally: StreamTally,
}

impl GroupWatch {
    /// Watches a consumer of `topic`, publishing lag through `tally`.
    pub(crate) fn new(topic: &str, tally: StreamTally) -> Self {
        GroupWatch {
            topic: topic.to_owned(),
            revoked: Mutex::new(Vec::new()),
            any_revoked: AtomicBool::new(false),
            assigned: AtomicBool::new(false),
            tally,
        }
    }

    /// Partitions revoked since the last call (empty almost always, and then cheap).
    pub(crate) fn take_revoked(&self) -> Vec<i32> {
        if !self.any_revoked.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        self.revoked
            .lock()
            .map(|mut revoked| std::mem::take(&mut *revoked))
            .unwrap_or_default()
    }

    /// Whether partitions were assigned since the last call.
    pub(crate) fn take_assigned(&self) -> bool {
        self.assigned.swap(false, Ordering::AcqRel)
    }
}

impl ClientContext for GroupWatch {
    fn stats(&self, statistics: Statistics) {
        if let Some(topic) = statistics.topics.get(&self.topic) {
            for (partition, stats) in &topic.partitions {
                if *partition >= 0 && stats.consumer_lag >= 0 {
                    self.tally.lag(*partition, stats.consumer_lag);
                }
            }
        }
    }
}

/// The partition numbers of a rebalance's list, for the log.
fn numbers(partitions: &rdkafka::TopicPartitionList) -> Vec<i32> {
    partitions
        .elements()
        .iter()
        .map(|p| p.partition())
        .collect()
}

/// Rebalances are logged (rare: a member joining, leaving or dying), as Kafka's own clients log
/// them, so that who held which partition when can be read back after an outage.
impl ConsumerContext for GroupWatch {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(partitions) => {
                let numbers = numbers(partitions);
                tracing::info!(topic = %self.topic, partitions = ?numbers, "stream partitions revoked");
                if let Ok(mut revoked) = self.revoked.lock() {
                    revoked.extend(numbers);
                    self.any_revoked.store(true, Ordering::Release);
                }
            }
            Rebalance::Error(error) => {
                tracing::warn!(topic = %self.topic, %error, "stream group rebalance failed");
            }
            Rebalance::Assign(_) => {}
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            tracing::info!(topic = %self.topic, partitions = ?numbers(partitions), "stream partitions assigned");
            self.assigned.store(true, Ordering::Release);
        }
    }
}
