//! The long-poll side of a serve route: one request, one JSON batch. The request waits up to
//! `wait` for a first record that passes the condition, then takes what follows at once (up to
//! `max`), and answers `{"topic", "records": […], "next"}` (and `"gaps"` when retention
//! deleted records the client asked for); the client sends `next` back as
//! `?from=` to continue with neither a gap nor a duplicate. A wait that ends with nothing answers
//! an empty batch with the same `next`.

use std::time::Duration;

use rdkafka::message::Message;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::stream::event_cel::EventEvaluator;

use super::position::Position;
use super::serve_route::ServeShared;
use super::topic_reader::{Gap, TopicReader};

/// How long a batch keeps gathering once its first record is in: records produced together
/// arrive together, without holding the answer for the whole wait.
const LINGER: Duration = Duration::from_millis(20);

/// A long-poll request's bounds.
#[derive(Debug, Clone, Copy)]
pub struct PollBounds {
    /// The longest wait for a first record.
    pub wait: Duration,
    /// The most records in one answer.
    pub max: usize,
}

/// Reads one batch and the position after it.
pub async fn poll_batch(
    shared: &ServeShared,
    reader: &TopicReader,
    mut position: Position,
    gaps: &[Gap],
    bounds: PollBounds,
) -> Result<(Value, Position), rdkafka::error::KafkaError> {
    let evaluator = EventEvaluator::default();
    let mut records = Vec::new();
    let mut until = Instant::now() + bounds.wait;
    while records.len() < bounds.max {
        let received = tokio::select! {
            received = reader.recv() => received,
            () = tokio::time::sleep_until(until) => break,
            () = shared.draining() => break,
        };
        let message = received?;
        position.advance(message.partition(), message.offset());
        if !shared.filter.passes(&evaluator, &shared.topic, &message) {
            shared.tally.filtered.inc();
            continue;
        }
        records.push(json!({
            "partition": message.partition(),
            "offset": message.offset(),
            "timestamp": message.timestamp().to_millis(),
            "key": message.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            "value": record_value(message.payload()),
        }));
        shared.tally.events.inc();
        if records.len() == 1 {
            until = Instant::now() + LINGER;
        }
    }
    let mut answer = json!({
        "topic": &*shared.topic,
        "records": records,
        "next": position.to_string(),
    });
    if !gaps.is_empty() {
        // Said only when it happens: records asked for that retention already deleted.
        answer["gaps"] = gaps
            .iter()
            .map(|g| json!({"partition": g.partition, "from": g.from, "to": g.to}))
            .collect();
    }
    Ok((answer, position))
}

/// A value as JSON when it is JSON, else as text (`null` for none).
fn record_value(payload: Option<&[u8]>) -> Value {
    match payload {
        None => Value::Null,
        Some(bytes) => serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())),
    }
}
