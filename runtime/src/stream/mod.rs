//! Kafka in meshd: the embedded broker, the producer behind HTTP → Kafka routes, stream rules
//! (consume, filter with CEL, republish, dead-letter) and Kafka → HTTP delivery.

pub mod broker;
pub mod embedded_broker;
pub mod event_cel;
pub mod json_cel;
pub mod kafka_settings;
pub mod metrics;
pub mod offset_tracker;
pub mod produce;
pub mod rule;

pub use broker::{ClusterError, KafkaCluster};
pub use embedded_broker::{BrokerFault, EmbeddedBroker, EmbeddedBrokerError};
pub use kafka_settings::{KafkaSettingError, KafkaSettings};
pub use metrics::{KafkaMetrics, ProduceTally, StreamTally};
pub use produce::{
    Delivered, DeliveryWait, EventProducer, EventRecord, ProduceError, ProduceOutcome,
    ProducerOptions, RecordHeaders,
};
