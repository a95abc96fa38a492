//! Dead-letter records: the failed record's key, value and headers, plus headers that say why it
//! failed and where it came from, so an operator can find, fix and replay it.

use rdkafka::message::{BorrowedHeaders, Header, Headers, OwnedHeaders};

/// Why the record failed (`invalid_json`, `cel_error`, `produce_failed`, …).
pub const REASON_HEADER: &str = "meshwork-dead-letter-reason";
/// The full error message.
pub const ERROR_HEADER: &str = "meshwork-dead-letter-error";
/// The stream that gave up on the record.
pub const STREAM_HEADER: &str = "meshwork-dead-letter-stream";
/// The topic the record was read from.
pub const SOURCE_TOPIC_HEADER: &str = "meshwork-source-topic";
/// The partition the record was read from.
pub const SOURCE_PARTITION_HEADER: &str = "meshwork-source-partition";
/// The offset the record was read from.
pub const SOURCE_OFFSET_HEADER: &str = "meshwork-source-offset";

/// Reason: a republished record was not acknowledged within the delivery timeout or was refused.
pub const PRODUCE_FAILED: &str = "produce_failed";
/// Reason: every HTTP delivery attempt failed.
pub const DELIVER_FAILED: &str = "deliver_failed";
/// Reason: the service answered with a client error (4xx other than 408 and 429).
pub const DELIVER_REJECTED: &str = "deliver_rejected";

/// Where a dead-lettered record came from and why it failed.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetterCause<'a> {
    /// The stream.
    pub stream: &'a str,
    /// The source topic.
    pub topic: &'a str,
    /// The source partition.
    pub partition: i32,
    /// The source offset.
    pub offset: i64,
    /// A short, stable reason.
    pub reason: &'a str,
    /// The full error.
    pub error: &'a str,
}

/// The record's own headers followed by the dead-letter headers.
pub fn dead_letter_headers(
    original: Option<&BorrowedHeaders>,
    cause: &DeadLetterCause<'_>,
) -> OwnedHeaders {
    let own = original.map_or(0, Headers::count);
    let mut headers = OwnedHeaders::new_with_capacity(own + 6);
    if let Some(original) = original {
        for header in original.iter() {
            headers = headers.insert(header);
        }
    }
    let partition = cause.partition.to_string();
    let offset = cause.offset.to_string();
    for (key, value) in [
        (REASON_HEADER, cause.reason),
        (ERROR_HEADER, cause.error),
        (STREAM_HEADER, cause.stream),
        (SOURCE_TOPIC_HEADER, cause.topic),
        (SOURCE_PARTITION_HEADER, partition.as_str()),
        (SOURCE_OFFSET_HEADER, offset.as_str()),
    ] {
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_headers_come_first_then_the_cause() {
        let original = OwnedHeaders::new().insert(Header {
            key: "x-ship",
            value: Some("enterprise"),
        });
        let headers = dead_letter_headers(
            Some(original.as_borrowed()),
            &DeadLetterCause {
                stream: "red_alerts",
                topic: "captains-log",
                partition: 2,
                offset: 17,
                reason: "invalid_json",
                error: "expected value at line 1 column 1",
            },
        );
        let pairs: Vec<(String, String)> = headers
            .iter()
            .map(|header| {
                (
                    header.key.to_owned(),
                    String::from_utf8(header.value.unwrap().to_vec()).unwrap(),
                )
            })
            .collect();
        let expected = [
            ("x-ship", "enterprise"),
            (REASON_HEADER, "invalid_json"),
            (ERROR_HEADER, "expected value at line 1 column 1"),
            (STREAM_HEADER, "red_alerts"),
            (SOURCE_TOPIC_HEADER, "captains-log"),
            (SOURCE_PARTITION_HEADER, "2"),
            (SOURCE_OFFSET_HEADER, "17"),
        ];
        assert_eq!(
            pairs,
            expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        );
    }
}
