//! Kafka topics and streams.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bundle::SourceLocation;

/// A declared Kafka topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Topic")]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// The topic name.
    pub name: String,
    /// Produced outside this program.
    pub external: bool,
    /// The partition count, or `null` for the broker's default.
    #[serde(deserialize_with = "super::bounded::present")]
    pub partitions: Option<u64>,
    /// The JSON Schema (draft 2020-12) every record value must satisfy, absent when the topic
    /// names none (bundles from before topic schemas load unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<TopicSchema>,
    /// Where the topic was declared.
    pub source: SourceLocation,
}

/// A topic's value schema, carried whole so meshd needs no file beside the bundle and the
/// bundle digest covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "TopicSchema")]
#[serde(deny_unknown_fields)]
pub struct TopicSchema {
    /// The schema file as the compiler read it (for messages).
    pub path: String,
    /// The JSON Schema document (draft 2020-12 unless its `$schema` says otherwise).
    pub document: serde_json::Value,
}

/// A rule over Kafka records: consume, filter, then republish and/or deliver over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Stream")]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// The stream's name.
    pub name: String,
    /// Where records are read.
    pub from: StreamSource,
    /// A CEL filter over `event`, or `null` for every record.
    #[serde(deserialize_with = "super::bounded::present")]
    pub when: Option<String>,
    /// Where matching records are republished, or `null`.
    #[serde(deserialize_with = "super::bounded::present")]
    pub to: Option<StreamSink>,
    /// Where matching records are delivered over HTTP, or `null`.
    #[serde(deserialize_with = "super::bounded::present")]
    pub deliver: Option<Deliver>,
    /// The topic failed records go to, or `null`.
    #[serde(deserialize_with = "super::bounded::present")]
    pub dead_letter: Option<String>,
    /// Where the stream was declared.
    pub source: SourceLocation,
}

/// The topic and consumer group a stream reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "StreamSource")]
#[serde(deny_unknown_fields)]
pub struct StreamSource {
    /// The topic.
    pub topic: String,
    /// The consumer group (the stream's name unless given).
    pub group: String,
}

/// The topic a stream republishes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "StreamSink")]
#[serde(deny_unknown_fields)]
pub struct StreamSink {
    /// The topic.
    pub topic: String,
    /// A CEL expression for the new key, or `null` to keep the record's key.
    #[serde(deserialize_with = "super::bounded::present")]
    pub key: Option<String>,
    /// A CEL expression for the new value, or `null` to keep the record's value.
    #[serde(deserialize_with = "super::bounded::present")]
    pub value: Option<String>,
    /// Read-process-write in Kafka transactions: the outputs and the source offsets commit
    /// together, so `read_committed` readers see each record once. Absent means at least once.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exactly_once: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Kafka → HTTP delivery to a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Deliver")]
#[serde(deny_unknown_fields)]
pub struct Deliver {
    /// The service.
    pub service: String,
    /// The request path.
    pub path: String,
    /// Records in flight at once.
    pub concurrency: u64,
    /// Retries per record before the dead letter.
    pub retry: u64,
    /// The first backoff in milliseconds.
    pub backoff_min_ms: u64,
    /// The largest backoff in milliseconds.
    pub backoff_max_ms: u64,
}

super::read_through!(crate::types::map_only::MapOnly:
    Topic,
    TopicSchema,
    Stream,
    StreamSource,
    StreamSink,
    Deliver
);
