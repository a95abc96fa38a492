//! A serve route's `when`, judged per record with the decision core's event CEL (the same
//! evaluation as a stream's `when`). A record the condition cannot judge (a value that is not
//! JSON, a missing field) is skipped: a client asked for records that match.

use std::sync::Arc;

use rdkafka::message::{BorrowedMessage, Message};

use crate::stream::event_cel::{EventEvaluator, EventExpression, EventHeaders, RecordView};
use crate::stream::kafka_headers::KafkaHeaders;

/// The compiled condition, shared by every client of the route.
#[derive(Debug, Clone)]
pub struct RecordFilter {
    condition: Option<Arc<EventExpression>>,
}

impl RecordFilter {
    /// A filter from the route's condition (`None`: every record passes).
    pub fn new(condition: Option<EventExpression>) -> Self {
        RecordFilter {
            condition: condition.map(Arc::new),
        }
    }

    /// Whether `message` should go to the client.
    pub fn passes(
        &self,
        evaluator: &EventEvaluator,
        topic: &str,
        message: &BorrowedMessage<'_>,
    ) -> bool {
        let Some(condition) = &self.condition else {
            return true;
        };
        let headers = message.headers().map(KafkaHeaders);
        let view = RecordView {
            topic,
            partition: message.partition(),
            offset: message.offset(),
            key: message.key(),
            value: message.payload(),
            headers: headers.as_ref().map(|h| h as &dyn EventHeaders),
            timestamp_ms: message.timestamp().to_millis(),
        };
        let scope = evaluator.scope(&view, condition.fields());
        match scope.condition(condition) {
            Ok(passes) => passes,
            Err(error) => {
                tracing::debug!(%error, topic, offset = view.offset, "serve: condition failed; record skipped");
                false
            }
        }
    }
}
