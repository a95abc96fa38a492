//! A client's place in a topic: for each partition, the offset of the next record to read.
//!
//! Written as `PARTITION:OFFSET` pairs joined by commas (`0:42,1:17,2:0`), it is the SSE `id:` of
//! each event (the position just after that event's record), the `next` of a long-poll answer,
//! and what a client sends back as `Last-Event-ID` or `?from=` to resume with neither a gap nor a
//! duplicate.

use std::collections::BTreeMap;
use std::fmt;

/// The next offset to read, per partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    next: BTreeMap<i32, i64>,
}

/// A position that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a position: expected PARTITION:OFFSET pairs joined by commas (`0:42,1:17`)")]
pub struct BadPosition(pub String);

impl Position {
    /// Reads `0:42,1:17`; partitions and offsets must be non-negative, each partition once.
    pub fn parse(text: &str) -> Result<Self, BadPosition> {
        let bad = || BadPosition(text.chars().take(200).collect());
        let mut next = BTreeMap::new();
        for pair in text.trim().split(',') {
            let (partition, offset) = pair.trim().split_once(':').ok_or_else(bad)?;
            let partition: i32 = partition.trim().parse().map_err(|_| bad())?;
            let offset: i64 = offset.trim().parse().map_err(|_| bad())?;
            if partition < 0 || offset < 0 || next.insert(partition, offset).is_some() {
                return Err(bad());
            }
        }
        Ok(Position { next })
    }

    /// The next offset to read in `partition`, if the position names it.
    pub fn next_offset(&self, partition: i32) -> Option<i64> {
        self.next.get(&partition).copied()
    }

    /// Sets where `partition` continues.
    pub fn set(&mut self, partition: i32, next_offset: i64) {
        self.next.insert(partition, next_offset);
    }

    /// Moves past the record at `offset` of `partition`.
    pub fn advance(&mut self, partition: i32, offset: i64) {
        self.next.insert(partition, offset + 1);
    }

    /// Every partition with its next offset, in partition order.
    pub fn iter(&self) -> impl Iterator<Item = (i32, i64)> + '_ {
        self.next.iter().map(|(p, o)| (*p, *o))
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (partition, offset)) in self.next.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{partition}:{offset}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_reads_back_what_it_writes() {
        let mut position = Position::default();
        position.set(1, 17);
        position.set(0, 42);
        position.advance(2, 9);
        assert_eq!(position.to_string(), "0:42,1:17,2:10");
        assert_eq!(Position::parse("0:42,1:17,2:10"), Ok(position));
    }

    #[test]
    fn malformed_positions_are_refused() {
        for text in [
            "",
            "0",
            "0:",
            "a:1",
            "0:-1",
            "-1:0",
            "0:1,0:2",
            "0:1;1:2",
            "0:99999999999999999999",
        ] {
            assert!(Position::parse(text).is_err(), "{text:?} parsed");
        }
    }
}
