//! Kafka in meshd: the embedded broker, the producer behind HTTP → Kafka routes, stream rules
//! (consume, filter with CEL, republish, dead-letter) and Kafka → HTTP delivery.
//!
//! What a stream decides per record ([`rule`], [`event_cel`], [`json_cel`]) and which record a
//! produce route writes are the decision core's (`meshwork_policy::stream`, re-exported here so
//! `meshc test` judges records with the same code); this module does the Kafka I/O around them.
//!
//! Reading order: [`kafka_runtime`] (what the rest of meshd sees) → [`broker`] (which cluster) →
//! [`produce`] and [`produce_route`] (HTTP → Kafka) → [`rule`] and
//! [`event_cel`] (what a stream decides per record) → [`consume`] (one run of a stream, with
//! [`offset_tracker`] and [`dead_letter`]) → [`deliver`] (Kafka → HTTP) → [`runner`] and
//! [`supervisor`] (keeping streams running across failures and reloads) → [`metrics`].
//! `exactly_once` streams run their outputs and offsets in Kafka transactions (`transaction`).

pub mod broker;
pub mod commit_window;
mod completion;
pub mod consume;
pub mod dead_letter;
pub mod deliver;
pub mod embedded_broker;
mod group_watch;
pub mod kafka_headers;
pub mod kafka_runtime;
pub mod kafka_settings;
pub mod metrics;
pub mod offset_tracker;
pub mod produce;
pub mod produce_route;
pub mod runner;
pub mod stream_flags;
pub mod supervisor;
mod transaction;

pub use meshwork_policy::stream::{event_cel, json_cel, record_plan, rule};

pub use broker::{ClusterError, KafkaCluster};
pub use consume::{StreamOptions, StreamRunError};
pub use deliver::{DeliverFailure, Deliverer, DeliveryRequest};
pub use embedded_broker::{BrokerFault, EmbeddedBroker, EmbeddedBrokerError};
pub use kafka_runtime::{KafkaLoadError, KafkaOptions, KafkaRuntime};
pub use kafka_settings::{KafkaSettingError, KafkaSettings};
pub use metrics::{KafkaMetrics, ProduceTally, StreamTally};
pub use produce::{
    Delivered, DeliveryWait, EventProducer, EventRecord, ProduceError, ProduceOutcome,
    ProducerOptions, RecordHeaders,
};
pub use produce_route::{
    PendingProduce, ProduceFailure, ProduceInput, ProduceReply, ProduceRoute, ProduceSettings,
};
pub use rule::{RuleError, StreamRule};
pub use runner::StreamHandle;
pub use stream_flags::StreamArgs;
pub use supervisor::{StreamLoadError, StreamPlan, StreamSupervisor};
