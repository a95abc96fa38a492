//! How a stream batches, commits and waits: the options every run of a stream shares, and the
//! bound they put on what a crash can replay.

use std::time::Duration;

use super::transaction::DEFAULT_TRANSACTION_TIMEOUT;
use crate::trace::SpanExporter;

/// Records a run reads back to back before it settles completions again.
pub(crate) const BURST: usize = 256;

/// How a stream batches, commits and waits.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Records read but not yet acknowledged before reading pauses.
    pub max_in_flight: usize,
    /// How often acknowledged offsets are committed.
    pub commit_interval: Duration,
    /// Commit sooner once this many records finished since the last commit.
    pub commit_every: usize,
    /// How long a republished or dead-lettered record may wait for its acknowledgement.
    pub delivery_timeout: Duration,
    /// How long the producer waits to fill a batch.
    pub linger: Duration,
    /// On a graceful stop, how long to wait for outputs still in flight.
    pub drain_timeout: Duration,
    /// The pause before a failed run is restarted.
    pub restart_backoff: Duration,
    /// How long the group waits for a silent member (a crashed meshd) before moving its
    /// partitions to the others.
    pub session_timeout: Duration,
    /// How long an `exactly_once` stream's transaction may stay open before the broker aborts
    /// it (a crashed member's partitions wait this long for their last transaction to end).
    pub transaction_timeout: Duration,
    /// Where the spans of traced records go (`--otlp-endpoint`).
    pub exporter: SpanExporter,
    /// This instance's stable name (`--stream-instance-id`): static group membership, so a
    /// restarted instance takes its partitions back without a rebalance, and a stable
    /// `transactional.id`, so it fences its crashed predecessor's open transaction at once.
    pub instance_id: Option<String>,
}

impl StreamOptions {
    /// Finished records that may stay unconfirmed (commits failing) before reading pauses.
    pub fn uncommitted_limit(&self) -> usize {
        2 * self.commit_every
    }

    /// The most records a crash or a rebalance can make the stream process twice (the
    /// uncommitted window): those in flight (at most `max_in_flight`), those finished since the
    /// last commit attempt (at most what one loop turn can finish on top of `commit_every`), and
    /// those whose commits failed (at most the limit plus one attempt).
    pub fn duplicate_bound(&self) -> usize {
        let per_attempt = self.commit_every + self.max_in_flight + BURST;
        self.max_in_flight + per_attempt + self.uncommitted_limit() + per_attempt
    }
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            max_in_flight: 5_000,
            commit_interval: Duration::from_millis(100),
            commit_every: 1_000,
            delivery_timeout: Duration::from_secs(30),
            linger: Duration::from_millis(5),
            drain_timeout: Duration::from_secs(10),
            restart_backoff: Duration::from_secs(1),
            session_timeout: Duration::from_secs(10),
            transaction_timeout: DEFAULT_TRANSACTION_TIMEOUT,
            exporter: SpanExporter::disabled(),
            instance_id: None,
        }
    }
}
