//! librdkafka's borrowed record headers as the decision core's stream CEL reads them
//! (`event.headers`), without copying them.

use meshwork_policy::stream::event_cel::EventHeaders;
use rdkafka::message::{BorrowedHeaders, Headers};

/// A consumed record's headers.
pub struct KafkaHeaders<'a>(pub &'a BorrowedHeaders);

impl EventHeaders for KafkaHeaders<'_> {
    fn each<'a>(&'a self, visit: &mut dyn FnMut(&'a str, Option<&'a [u8]>)) {
        for header in self.0.iter() {
            visit(header.key, header.value);
        }
    }
}
