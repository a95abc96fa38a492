//! A stream run's commit side: when progress is committed (interval or batch), committing
//! offsets (at least once) or the transaction (`exactly_once`), pausing reading while commits
//! fail, and draining on a graceful stop.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::super::group_watch::GroupWatch;
use super::super::transaction::{rewind_to_committed, StreamTransaction};
use super::{RunState, StreamRunError};

impl RunState<'_> {
    /// Pauses the source partitions while too many finished records are unconfirmed (commits
    /// failing), and resumes them once a commit succeeds. A new assignment gets the current state
    /// explicitly: librdkafka keeps a partition's pause across a revocation, so a partition paused
    /// before a rebalance and assigned back would otherwise never be read again.
    pub(super) fn gate(&mut self, consumer: &BaseConsumer<GroupWatch>) {
        let newly_assigned = consumer.context().take_assigned();
        let full = self.window.is_full();
        if full && (!self.paused || newly_assigned) {
            self.set_paused(consumer, true);
        } else if !full && (self.paused || newly_assigned) {
            self.set_paused(consumer, false);
        }
    }

    fn set_paused(&mut self, consumer: &BaseConsumer<GroupWatch>, paused: bool) {
        let outcome = consumer.assignment().and_then(|assignment| {
            if paused {
                consumer.pause(&assignment)
            } else {
                consumer.resume(&assignment)
            }
        });
        match outcome {
            Ok(()) => self.paused = paused,
            Err(error) => {
                tracing::warn!(stream = %self.rule.name, %error, paused, "pause/resume failed")
            }
        }
        if paused {
            tracing::warn!(
                stream = %self.rule.name,
                uncommitted = self.window.uncommitted(),
                "offset commits are failing; reading paused until one succeeds"
            );
        }
    }

    /// Commits acknowledged offsets when the interval or the batch size says so (or `force`).
    pub(super) fn commit_when_due(
        &mut self,
        consumer: &BaseConsumer<GroupWatch>,
        force: bool,
    ) -> Result<(), StreamRunError> {
        // A transaction costs a few round trips to the coordinator whatever it holds, so an
        // `exactly_once` stream commits on the interval only (as Kafka Streams does): committing
        // every `commit_every` records would make each transaction tiny. Its replay window does
        // not matter: aborted outputs are never seen.
        let batch_full = self.transaction.is_none()
            && self.tracker.finished_since_commit() >= self.options.commit_every;
        let due = force || batch_full || self.last_commit.elapsed() >= self.options.commit_interval;
        if !due {
            return Ok(());
        }
        if self.transaction.is_some() {
            return self.commit_transaction(consumer);
        }
        self.flush_counts();
        self.last_commit = Instant::now();
        let finished = self.tracker.finished_since_commit();
        let offsets = match self.tracker.take_commit() {
            Some(offsets) => offsets,
            // Nothing new finished (reading is paused), but the last commits failed: retry them.
            None if self.window.uncommitted() > 0 => self.tracker.current_offsets(),
            None => return Ok(()),
        };
        let succeeded = self.commit(consumer, &offsets);
        self.window.committed(finished, succeeded);
        Ok(())
    }

    /// Commits an `exactly_once` stream's transaction: waits until every output of the records
    /// read so far is acknowledged (dead letters of failed ones are sent inside the same
    /// transaction), then commits them with the source offsets. A failure aborts and ends the run.
    fn commit_transaction(
        &mut self,
        consumer: &BaseConsumer<GroupWatch>,
    ) -> Result<(), StreamRunError> {
        self.last_commit = Instant::now();
        if !self
            .transaction
            .as_ref()
            .is_some_and(StreamTransaction::is_dirty)
        {
            return Ok(());
        }
        let deadline = Instant::now() + self.options.delivery_timeout;
        while self.tracker.in_flight() > 0 {
            if Instant::now() >= deadline {
                return self.transaction_failed("outputs not acknowledged in time".to_string());
            }
            // Not `flush`: a transactional producer's queue always holds coordinator requests,
            // so flush would wait out its whole timeout every time. The delivery reports are
            // what this waits for.
            self.completions.wait(Duration::from_millis(1));
            self.settle(consumer)?;
            if !self
                .transaction
                .as_ref()
                .is_some_and(StreamTransaction::is_dirty)
            {
                // A revocation aborted the transaction meanwhile.
                return Ok(());
            }
        }
        self.flush_counts();
        let _ = self.tracker.take_commit();
        let offsets = self.tracker.current_offsets();
        let committed = match &mut self.transaction {
            Some(transaction) => transaction.commit(
                &self.producer,
                consumer,
                &self.rule.source_topic,
                &offsets,
                self.tally,
            ),
            None => return Ok(()),
        };
        match committed {
            Ok(()) => Ok(()),
            Err(error) => self.transaction_failed(error.to_string()),
        }
    }

    /// Aborts the open transaction and ends the run with `error`.
    fn transaction_failed(&mut self, error: String) -> Result<(), StreamRunError> {
        if let Some(transaction) = &mut self.transaction {
            if let Err(abort) = transaction.abort(&self.producer, self.tally) {
                tracing::warn!(stream = %self.rule.name, error = %abort, "transaction abort failed");
            }
        }
        Err(StreamRunError::Transaction {
            stream: self.rule.name.clone(),
            error,
        })
    }

    /// A revocation under `exactly_once`: abort what the transaction holds (the partitions' next
    /// owner, maybe this member again, re-reads from the last committed transaction) and forget
    /// the records in flight.
    pub(super) fn abort_transaction(
        &mut self,
        consumer: &BaseConsumer<GroupWatch>,
        revoked: &[i32],
    ) -> Result<(), StreamRunError> {
        let Some(transaction) = &mut self.transaction else {
            return Ok(());
        };
        if transaction.is_dirty() {
            if let Err(error) = transaction.abort(&self.producer, self.tally) {
                return Err(StreamRunError::Transaction {
                    stream: self.rule.name.clone(),
                    error: error.to_string(),
                });
            }
            tracing::info!(stream = %self.rule.name, ?revoked, "partitions revoked: open transaction aborted");
        }
        self.stale_below = self.tracker.next_sequence();
        self.tracker.forget_all();
        self.window.forget();
        // Partitions still (or newly) assigned resume from the last committed transaction.
        rewind_to_committed(consumer, self.options.delivery_timeout).map_err(|error| {
            StreamRunError::Transaction {
                stream: self.rule.name.clone(),
                error: format!("cannot rewind to the committed offsets: {error}"),
            }
        })
    }

    /// Commits synchronously: librdkafka reports the result of an asynchronous manual commit
    /// only through a callback rust-rdkafka does not expose, and the result decides whether
    /// reading may go on. A local commit takes well under a millisecond, every commit interval.
    fn commit(&self, consumer: &BaseConsumer<GroupWatch>, offsets: &[(i32, i64)]) -> bool {
        let mut list = TopicPartitionList::with_capacity(offsets.len());
        for (partition, offset) in offsets {
            if let Err(error) = list.add_partition_offset(
                &self.rule.source_topic,
                *partition,
                Offset::Offset(*offset),
            ) {
                tracing::warn!(stream = %self.rule.name, %error, "bad offset to commit");
            }
        }
        match consumer.commit(&list, CommitMode::Sync) {
            Ok(()) => true,
            Err(error) => {
                // Not fatal: the next commit carries the same or later offsets; at worst a
                // restart re-reads the uncommitted records, and the window bounds how many.
                tracing::debug!(stream = %self.rule.name, %error, "offset commit failed");
                false
            }
        }
    }

    fn flush_counts(&mut self) {
        self.tally.consumed(std::mem::take(&mut self.consumed));
        self.tally.filtered(std::mem::take(&mut self.filtered));
        let produced = std::mem::take(&mut self.produced);
        if let Some(tally) = &self.target_tally {
            tally.acknowledged_many(produced);
        }
    }

    /// Waits for outputs in flight, then commits synchronously.
    pub(super) fn drain(
        &mut self,
        consumer: &BaseConsumer<GroupWatch>,
    ) -> Result<(), StreamRunError> {
        let deadline = Instant::now() + self.options.drain_timeout;
        while self.tracker.in_flight() > 0 && Instant::now() < deadline {
            self.completions.wait(Duration::from_millis(5));
            self.settle(consumer)?;
        }
        if self.tracker.in_flight() > 0 {
            tracing::warn!(
                stream = %self.rule.name,
                in_flight = self.tracker.in_flight(),
                "stopping with outputs unacknowledged; they will be read again"
            );
        }
        if self.transaction.is_some() {
            return self.commit_transaction(consumer);
        }
        self.flush_counts();
        if let Some(offsets) = self.tracker.take_commit() {
            self.commit(consumer, &offsets);
        }
        Ok(())
    }
}
