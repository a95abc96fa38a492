//! Kafka in meshd, one folder per direction: [`produce`] (HTTP → Kafka routes), [`rules`] (topic →
//! topic stream rules: consume, filter with CEL, republish, dead-letter), [`deliver`] (Kafka → HTTP
//! services) and [`broker`] (which cluster: the embedded broker or a real one, and the librdkafka
//! settings every client starts from), and [`serve`] (Kafka → HTTP clients: SSE and long-poll).
//! What every direction shares stays at this level:
//! [`kafka_runtime`] (what the rest of meshd sees), [`metrics`], [`kafka_headers`] and the decision
//! core's event CEL.
//!
//! What a stream decides per record ([`rule`], [`event_cel`], [`json_cel`]) and which record a
//! produce route writes are the decision core's (`meshwork_policy::stream`, re-exported here so
//! `meshc test` judges records with the same code); this module does the Kafka I/O around them.
//!
//! Reading order: [`kafka_runtime`] → [`broker`] → [`produce`] ([`topic_schemas`] checks record
//! values against their topic's JSON Schema) → [`rule`] and [`event_cel`] (what a stream decides
//! per record) → [`rules`] (one run of a stream, kept running across failures and reloads) →
//! [`deliver`] → [`metrics`].

pub mod broker;
pub mod deliver;
pub mod kafka_headers;
pub mod kafka_runtime;
pub mod metrics;
pub mod produce;
pub mod rules;
pub mod serve;

pub use meshwork_policy::stream::{event_cel, json_cel, record_plan, rule, topic_schemas};

pub use broker::broker_process::serve_embedded_broker;
pub use broker::embedded_broker::{
    BrokerFault, BrokerProgram, EmbeddedBroker, EmbeddedBrokerError, BROKER_SUBCOMMAND,
};
pub use broker::kafka_settings::{KafkaSettingError, KafkaSettings};
pub use broker::{ClusterError, KafkaCluster};
pub use deliver::deliverer::{DeliverFailure, Deliverer, DeliveryRequest};
pub use kafka_runtime::{KafkaLoadError, KafkaOptions, KafkaRuntime};
pub use metrics::{KafkaMetrics, ProduceTally, StreamTally};
pub use produce::event_producer::{
    Delivered, DeliveryWait, EventProducer, EventRecord, ProduceError, ProduceOutcome,
    ProducerOptions, RecordHeaders,
};
pub use produce::produce_route::{
    PendingProduce, ProduceFailure, ProduceInput, ProduceReply, ProduceRoute, ProduceSettings,
};
pub use rule::{RuleError, StreamRule};
pub use rules::consume::{StreamOptions, StreamRunError};
pub use rules::runner::StreamHandle;
pub use rules::stream_flags::StreamArgs;
pub use rules::supervisor::{StreamLoadError, StreamPlan, StreamSupervisor};
pub use serve::{ServeReply, ServeRequest, ServeRoute, ServeSettings};
pub use topic_schemas::{SchemaRejection, TopicSchemaLoadError, TopicSchemas};
