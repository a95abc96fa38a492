//! What meshd's streams must write, from `meshc test`'s outcomes, and what they did write, read
//! back from the embedded broker.

use std::collections::BTreeMap;
use std::time::Duration;

use meshc::test_runner::outcome::{Outcome, StreamVerdict};
use meshd::stream::rules::dead_letter::REASON_HEADER;

use crate::stream_harness::{read_topic, record_count, ReadRecord};

/// A record a stream reads: key and value.
pub type ReadBytes = (Option<Vec<u8>>, Vec<u8>);

/// A record a stream must write: key, value, and the dead-letter reason for a dead letter.
pub type Written = (Option<Vec<u8>>, Vec<u8>, Option<String>);

/// What the streams must write, by topic: (key, value, dead-letter reason), from every outcome
/// with the record its streams read (a produce route's, or a record test's).
pub fn expected_stream_output<'o>(
    outcomes: impl Iterator<Item = (&'o Outcome, Option<ReadBytes>)>,
) -> BTreeMap<String, Vec<Written>> {
    let mut by_topic: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (outcome, read) in outcomes {
        for step in &outcome.streams {
            match &step.verdict {
                StreamVerdict::Passed {
                    emitted: Some(record),
                    ..
                } => by_topic.entry(record.topic.clone()).or_default().push((
                    record.key.clone(),
                    record.value.clone().unwrap_or_default(),
                    None,
                )),
                StreamVerdict::Failed {
                    dead_letter: Some(topic),
                    reason,
                    ..
                } => {
                    let (key, value) = read.clone().unwrap_or_default();
                    by_topic.entry(topic.clone()).or_default().push((
                        key,
                        value,
                        Some(reason.clone()),
                    ));
                }
                _ => {}
            }
        }
    }
    by_topic
}

/// Reads what meshd's streams wrote to `topic`, waiting for `expected` records, and compares.
pub fn stream_disagreements(bootstrap: &str, topic: &str, expected: &[Written]) -> Vec<String> {
    let records = read_topic(bootstrap, topic, 1, expected.len(), Duration::from_secs(60));
    let mut found = Vec::new();
    let mut live: Vec<&ReadRecord> = records.iter().collect();
    for (key, value, reason) in expected {
        let matching = live.iter().position(|r| {
            r.value == *value
                && (reason.is_some() || r.key == *key)
                && reason
                    .as_deref()
                    .is_none_or(|why| r.header(REASON_HEADER) == Some(why))
        });
        match matching {
            Some(index) => {
                live.remove(index);
            }
            None => found.push(format!(
                "meshc test writes {:?} (key {:?}, reason {reason:?}) to {topic}; meshd wrote {:?}",
                String::from_utf8_lossy(value),
                key.as_deref().map(String::from_utf8_lossy),
                records
                    .iter()
                    .map(|r| String::from_utf8_lossy(&r.value).into_owned())
                    .collect::<Vec<_>>()
            )),
        }
    }
    let total = record_count(bootstrap, topic, 1);
    if total != expected.len() {
        found.push(format!(
            "meshc test writes {} records to {topic}; meshd wrote {total}",
            expected.len()
        ));
    }
    found
}
