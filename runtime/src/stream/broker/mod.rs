//! Which Kafka cluster meshd talks to: the embedded broker (librdkafka's mock cluster, in a
//! process of its own) or a real cluster, and the librdkafka settings every producer and consumer
//! starts from.

pub mod broker_command;
pub mod broker_process;
pub mod embedded_broker;
pub mod kafka_cluster;
pub mod kafka_settings;

pub use kafka_cluster::{ClusterError, KafkaCluster};
