//! Which source offsets a stream may commit: a record's offset is committable only once every
//! output it caused (republished record, HTTP delivery, dead letter) is acknowledged, and every
//! record read before it is too. That ordering is what makes the stream at-least-once.
//!
//! Records get consecutive sequence numbers as they are read, so finding a record on completion is
//! an index, not a search, and the window of records in flight is one ring buffer.

use std::collections::{BTreeMap, VecDeque};

/// A record's place in the read order; outputs carry it back on completion.
pub type Sequence = u64;

#[derive(Debug, Clone, Copy)]
struct InFlight {
    partition: i32,
    offset: i64,
    pending: u8,
    /// The partition was revoked: the record is someone else's now; never commit it.
    void: bool,
}

/// The read window of one stream.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    window: VecDeque<InFlight>,
    first: Sequence,
    committable: BTreeMap<i32, i64>,
    dirty: bool,
    finished_since_commit: usize,
}

impl OffsetTracker {
    /// An empty window.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a record read from `partition` at `offset` that waits for `outputs`
    /// acknowledgements (0 for a filtered record).
    pub fn admit(&mut self, partition: i32, offset: i64, outputs: u8) -> Sequence {
        let sequence = self.first + self.window.len() as Sequence;
        self.window.push_back(InFlight {
            partition,
            offset,
            pending: outputs,
            void: false,
        });
        self.advance();
        sequence
    }

    /// Records one acknowledged output of `sequence`. Completions of records dropped by a
    /// revocation are ignored.
    pub fn complete(&mut self, sequence: Sequence) {
        if let Some(entry) = self.entry_mut(sequence) {
            entry.pending = entry.pending.saturating_sub(1);
            if sequence == self.first {
                self.advance();
            }
        }
    }

    /// Where a record in the window came from.
    pub fn source(&self, sequence: Sequence) -> Option<(i32, i64)> {
        let index = sequence.checked_sub(self.first)?;
        self.window
            .get(usize::try_from(index).ok()?)
            .map(|entry| (entry.partition, entry.offset))
    }

    /// The sequence the next admitted record gets: completions of records admitted before it
    /// can be told apart (after a transaction abort, they are stale).
    pub fn next_sequence(&self) -> Sequence {
        self.first + self.window.len() as Sequence
    }

    /// Records read but not yet fully acknowledged (or waiting behind one that is not).
    pub fn in_flight(&self) -> usize {
        self.window.len()
    }

    /// Records finished since the last [`OffsetTracker::take_commit`].
    pub fn finished_since_commit(&self) -> usize {
        self.finished_since_commit
    }

    /// The offsets to commit (next offset to read, per partition) if any moved since last time.
    pub fn take_commit(&mut self) -> Option<Vec<(i32, i64)>> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        self.finished_since_commit = 0;
        Some(self.committable.iter().map(|(p, o)| (*p, *o)).collect())
    }

    /// Every partition's committable offset, moved or not (to retry a commit that failed).
    pub fn current_offsets(&self) -> Vec<(i32, i64)> {
        self.committable.iter().map(|(p, o)| (*p, *o)).collect()
    }

    /// Forgets `partitions` after a rebalance took them away: their records in flight no longer
    /// hold the window back and their offsets are not committed by this member any more.
    pub fn revoke(&mut self, partitions: &[i32]) {
        for entry in &mut self.window {
            if partitions.contains(&entry.partition) {
                entry.void = true;
                entry.pending = 0;
            }
        }
        for partition in partitions {
            self.committable.remove(partition);
        }
        self.advance();
    }

    /// Forgets every record in flight and every committable offset: after a transaction abort,
    /// the records will be read again from the last committed transaction's offsets.
    pub fn forget_all(&mut self) {
        for entry in &mut self.window {
            entry.void = true;
            entry.pending = 0;
        }
        self.committable.clear();
        self.dirty = false;
        self.finished_since_commit = 0;
        self.advance();
    }

    fn entry_mut(&mut self, sequence: Sequence) -> Option<&mut InFlight> {
        let index = usize::try_from(sequence.checked_sub(self.first)?).ok()?;
        self.window.get_mut(index)
    }

    fn advance(&mut self) {
        while let Some(front) = self.window.front() {
            if front.pending > 0 {
                break;
            }
            if !front.void {
                self.committable.insert(front.partition, front.offset + 1);
                self.dirty = true;
                self.finished_since_commit += 1;
            }
            self.window.pop_front();
            self.first += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filtered_records_are_committable_at_once() {
        let mut tracker = OffsetTracker::new();
        tracker.admit(0, 10, 0);
        tracker.admit(0, 11, 0);
        assert_eq!(tracker.take_commit(), Some(vec![(0, 12)]));
        assert_eq!(tracker.take_commit(), None);
        assert_eq!(tracker.in_flight(), 0);
    }

    #[test]
    fn a_later_acknowledgement_waits_for_an_earlier_record() {
        let mut tracker = OffsetTracker::new();
        let first = tracker.admit(0, 5, 1);
        let second = tracker.admit(1, 7, 1);
        tracker.complete(second);
        assert_eq!(
            tracker.take_commit(),
            None,
            "record 5 of partition 0 is not acknowledged"
        );
        tracker.complete(first);
        assert_eq!(tracker.take_commit(), Some(vec![(0, 6), (1, 8)]));
    }

    #[test]
    fn a_record_with_two_outputs_needs_both() {
        let mut tracker = OffsetTracker::new();
        let sequence = tracker.admit(2, 0, 2);
        tracker.complete(sequence);
        assert_eq!(tracker.take_commit(), None);
        tracker.complete(sequence);
        assert_eq!(tracker.take_commit(), Some(vec![(2, 1)]));
    }

    #[test]
    fn revoked_partitions_neither_block_nor_commit() {
        let mut tracker = OffsetTracker::new();
        let lost = tracker.admit(0, 3, 1);
        let kept = tracker.admit(1, 9, 1);
        tracker.complete(kept);
        tracker.revoke(&[0]);
        assert_eq!(tracker.take_commit(), Some(vec![(1, 10)]));
        // A late acknowledgement of the revoked record changes nothing.
        tracker.complete(lost);
        assert_eq!(tracker.take_commit(), None);
    }

    #[test]
    fn sources_are_found_by_sequence() {
        let mut tracker = OffsetTracker::new();
        tracker.admit(0, 1, 0);
        let waiting = tracker.admit(3, 44, 1);
        assert_eq!(tracker.source(waiting), Some((3, 44)));
        assert_eq!(tracker.source(0), None, "already committed and gone");
    }
}
