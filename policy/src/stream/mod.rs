//! What meshd decides about Kafka records, without Kafka: the record a produce route writes
//! ([`record_plan`]) and, per consumed record, what a stream does with it ([`rule`], with its
//! CEL over `event` in [`event_cel`] and [`json_cel`]). meshd's consumers and producers do the
//! I/O around these.

pub mod event_cel;
pub mod json_cel;
pub mod record_plan;
pub mod rule;
