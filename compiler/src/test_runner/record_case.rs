//! Kafka records through the streams that read their topic, judged by each stream's compiled
//! rule (`meshwork-policy`, the code meshd's consumers run): filtered, republished (with the key
//! and value reshaped), delivered, or failed into the dead letter. What a stream republishes is
//! followed into the streams of that topic in turn.

use std::time::{SystemTime, UNIX_EPOCH};

use meshwork_bundle::Bundle;
use meshwork_policy::stream::event_cel::{EventEvaluator, EventHeaders, RecordView};
use meshwork_policy::stream::rule::{Reshaped, StreamRule, Verdict};

use super::case_plan::CasePlan;
use super::outcome::{EmittedRecord, Outcome, StreamStep, StreamVerdict};

/// How far republished records are followed (stream cycles are compile errors; this is a bound
/// for bundles written by hand).
const MAX_HOPS: usize = 16;

/// A record's headers as the test gives them.
struct TestHeaders(Vec<(String, Vec<u8>)>);

impl EventHeaders for TestHeaders {
    fn each<'a>(&'a self, visit: &mut dyn FnMut(&'a str, Option<&'a [u8]>)) {
        for (name, value) in &self.0 {
            visit(name, Some(value));
        }
    }
}

/// One record on a topic.
struct Record {
    topic: String,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: TestHeaders,
    timestamp_ms: Option<i64>,
}

fn millis(time: SystemTime) -> Option<i64> {
    time.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
}

/// Every stream's decision on `record`, and on what they write on, breadth first.
fn judge(bundle: &Bundle, first: Record, steps: &mut Vec<StreamStep>) -> Result<(), String> {
    let evaluator = EventEvaluator::default();
    let mut queue = vec![first];
    for _ in 0..MAX_HOPS {
        let mut next = Vec::new();
        for record in &queue {
            for stream in bundle
                .streams
                .iter()
                .filter(|s| s.from.topic == record.topic)
            {
                let rule = StreamRule::compile(stream, &bundle.services)
                    .map_err(|e| format!("meshd would refuse this program: {e}"))?;
                let view = RecordView {
                    topic: &record.topic,
                    partition: 0,
                    offset: 0,
                    key: record.key.as_deref(),
                    value: record.value.as_deref(),
                    headers: Some(&record.headers),
                    timestamp_ms: record.timestamp_ms,
                };
                let verdict = match rule.judge(&evaluator, &view) {
                    Verdict::Filtered => StreamVerdict::Filtered,
                    Verdict::Failed(error) => StreamVerdict::Failed {
                        dead_letter: rule.dead_letter.clone(),
                        reason: error.reason().to_string(),
                        message: error.to_string(),
                    },
                    Verdict::Pass { key, value } => {
                        let pick = |reshaped: Reshaped, own: &Option<Vec<u8>>| match reshaped {
                            Reshaped::Keep => own.clone(),
                            Reshaped::Replace(bytes) => bytes,
                        };
                        let emitted = rule.target.as_ref().map(|target| EmittedRecord {
                            stream: stream.name.clone(),
                            topic: target.topic.clone(),
                            key: pick(key.clone(), &record.key),
                            value: pick(value.clone(), &record.value),
                        });
                        if let Some(out) = &emitted {
                            next.push(Record {
                                topic: out.topic.clone(),
                                key: out.key.clone(),
                                value: out.value.clone(),
                                headers: TestHeaders(record.headers.0.clone()),
                                timestamp_ms: record.timestamp_ms,
                            });
                        }
                        StreamVerdict::Passed {
                            emitted,
                            delivered_to: rule.deliver.as_ref().map(|d| d.settings.service.clone()),
                        }
                    }
                };
                steps.push(StreamStep {
                    stream: stream.name.clone(),
                    topic: record.topic.clone(),
                    source: stream.source.clone(),
                    verdict,
                });
            }
        }
        if next.is_empty() {
            return Ok(());
        }
        queue = next;
    }
    Ok(())
}

/// Decides the test's record on `topic`.
pub fn decide_record(bundle: &Bundle, plan: &CasePlan<'_>, topic: &str) -> Result<Outcome, String> {
    let record = Record {
        topic: topic.to_string(),
        key: plan.key.clone().map(String::into_bytes),
        value: plan.body.clone().map(String::into_bytes),
        headers: TestHeaders(
            plan.request
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
                .collect(),
        ),
        timestamp_ms: millis(plan.at),
    };
    let mut outcome = Outcome::default();
    judge(bundle, record, &mut outcome.streams)?;
    Ok(outcome)
}

/// Follows a produce route's record into the streams of its topic.
pub fn follow_produced(
    bundle: &Bundle,
    plan: &CasePlan<'_>,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let Some(produced) = &outcome.produced else {
        return Ok(());
    };
    let record = Record {
        topic: produced.topic.clone(),
        key: produced.key.clone(),
        value: Some(produced.value.clone()),
        headers: TestHeaders(Vec::new()),
        timestamp_ms: millis(plan.at),
    };
    let mut steps = Vec::new();
    judge(bundle, record, &mut steps)?;
    outcome.streams = steps;
    Ok(())
}
