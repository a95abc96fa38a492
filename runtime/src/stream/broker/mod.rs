//! Which Kafka cluster meshd talks to: the embedded broker (librdkafka's mock cluster, run
//! in-process) or a real cluster, and the librdkafka settings every producer and consumer starts
//! from.

pub mod embedded_broker;
pub mod kafka_cluster;
pub mod kafka_settings;

pub use kafka_cluster::{ClusterError, KafkaCluster};
