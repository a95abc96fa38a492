//! How many finished records are not yet committed, and when reading must pause.
//!
//! A commit can fail (a rebalance in progress, the coordinator unreachable). Each failure leaves
//! more finished records uncommitted, and a crash then replays them all. Counting them and pausing
//! the source partitions while too many are uncommitted keeps the replay (the duplicates) within a
//! fixed window however long commits keep failing. Commits carry cumulative offsets, so one
//! success covers every failure before it.

/// Commit bookkeeping for one run.
#[derive(Debug)]
pub struct CommitWindow {
    /// Finished records whose offsets failed to commit.
    uncommitted: usize,
    limit: usize,
}

impl CommitWindow {
    /// A window that pauses reading once more than `limit` finished records failed to commit.
    pub fn new(limit: usize) -> Self {
        CommitWindow {
            uncommitted: 0,
            limit,
        }
    }

    /// A commit covering `records` more finished records succeeded or failed.
    pub fn committed(&mut self, records: usize, succeeded: bool) {
        if succeeded {
            self.uncommitted = 0;
        } else {
            self.uncommitted += records;
        }
    }

    /// A revocation took the partitions: their offsets are no longer ours to commit.
    pub fn forget(&mut self) {
        self.uncommitted = 0;
    }

    /// Finished records whose commit failed.
    pub fn uncommitted(&self) -> usize {
        self.uncommitted
    }

    /// Whether reading must pause until a commit succeeds.
    pub fn is_full(&self) -> bool {
        self.uncommitted > self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_commits_fill_the_window_and_one_success_empties_it() {
        let mut window = CommitWindow::new(100);
        for _ in 0..3 {
            window.committed(40, false);
        }
        assert!(window.is_full());
        assert_eq!(window.uncommitted(), 120);
        window.committed(10, true);
        assert!(!window.is_full());
        assert_eq!(window.uncommitted(), 0);
    }

    #[test]
    fn a_revocation_empties_the_window() {
        let mut window = CommitWindow::new(10);
        window.committed(50, false);
        window.forget();
        assert!(!window.is_full());
    }
}
