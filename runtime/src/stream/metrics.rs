//! Kafka metrics: records produced, consumed, filtered and dead-lettered per topic and rule, the
//! delivery latency, and consumer lag per partition.
//!
//! Families are registered once into the admin registry (under the `kafka` prefix); the hot paths
//! hold pre-resolved handles ([`ProduceTally`], [`StreamTally`]) so counting a record is one atomic
//! add, not a label lookup.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// A topic and the rule (route or stream) that touched it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicRule {
    topic: String,
    rule: String,
}

/// A dead-lettered record: the dead-letter topic, the stream, and why.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeadLetterLabels {
    topic: String,
    rule: String,
    reason: String,
}

/// Where a record was delivered: `kafka` (a topic) or `http` (a service).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    rule: String,
    sink: String,
}

/// A stream's transactions by how they ended (`committed` or `aborted`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransactionLabels {
    rule: String,
    outcome: String,
}

/// One partition a stream reads.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LagLabels {
    rule: String,
    topic: String,
    partition: i32,
}

type LatencyFamily = Family<LatencyLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs … ~6.5 s in 17 doubling buckets.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 17))
}

/// Every Kafka metric family. Cheap to clone (the families are shared).
#[derive(Clone)]
pub struct KafkaMetrics {
    produced: Family<TopicRule, Counter>,
    produce_failed: Family<TopicRule, Counter>,
    schema_rejected: Family<TopicRule, Counter>,
    consumed: Family<TopicRule, Counter>,
    filtered: Family<TopicRule, Counter>,
    dead_lettered: Family<DeadLetterLabels, Counter>,
    delivery_latency: LatencyFamily,
    consumer_lag: Family<LagLabels, Gauge>,
    transactions: Family<TransactionLabels, Counter>,
    /// `serve` routes (Kafka → HTTP clients).
    pub serve: super::serve::ServeMetrics,
}

impl std::fmt::Debug for KafkaMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KafkaMetrics")
    }
}

impl Default for KafkaMetrics {
    fn default() -> Self {
        KafkaMetrics {
            produced: Family::default(),
            produce_failed: Family::default(),
            schema_rejected: Family::default(),
            consumed: Family::default(),
            filtered: Family::default(),
            dead_lettered: Family::default(),
            delivery_latency: Family::new_with_constructor(latency_histogram),
            consumer_lag: Family::default(),
            transactions: Family::default(),
            serve: Default::default(),
        }
    }
}

impl KafkaMetrics {
    /// Creates the families and registers them under `kafka_` in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = KafkaMetrics::default();
        let kafka = registry.sub_registry_with_prefix("kafka");
        kafka.register(
            "produced_records",
            "Records acknowledged by the broker, by topic and rule (route or stream)",
            metrics.produced.clone(),
        );
        kafka.register(
            "produce_failures",
            "Records the broker did not acknowledge (timeout, refusal, full queue), by topic and rule",
            metrics.produce_failed.clone(),
        );
        kafka.register(
            "schema_rejections",
            "Records refused by their topic's schema, by topic and rule: produce requests answered \
             400/422 (never produced) and stream inputs sent to the dead letter",
            metrics.schema_rejected.clone(),
        );
        kafka.register(
            "consumed_records",
            "Records a stream read, by source topic and stream",
            metrics.consumed.clone(),
        );
        kafka.register(
            "filtered_records",
            "Records a stream's condition dropped, by source topic and stream",
            metrics.filtered.clone(),
        );
        kafka.register(
            "dead_lettered_records",
            "Records sent to a dead-letter topic, by that topic, stream and reason",
            metrics.dead_lettered.clone(),
        );
        kafka.register(
            "delivery_latency_seconds",
            "From handing a record over to its acknowledgement (sink kafka) or 2xx answer (sink http)",
            metrics.delivery_latency.clone(),
        );
        kafka.register(
            "consumer_lag",
            "Records between a stream's position and the partition's high watermark",
            metrics.consumer_lag.clone(),
        );
        kafka.register(
            "stream_transactions",
            "Transactions of exactly_once streams, by stream and outcome (committed, aborted)",
            metrics.transactions.clone(),
        );
        metrics.serve.register(kafka);
        metrics
    }

    /// Handles for records a route or stream (`rule`) produces to `topic`.
    pub fn produce_tally(&self, topic: &str, rule: &str) -> ProduceTally {
        let labels = TopicRule {
            topic: topic.to_owned(),
            rule: rule.to_owned(),
        };
        ProduceTally(Arc::new(ProduceHandles {
            produced: self.produced.get_or_create_owned(&labels),
            failed: self.produce_failed.get_or_create_owned(&labels),
            schema_rejected: self.schema_rejected.get_or_create_owned(&labels),
            latency: self.delivery_latency.get_or_create_owned(&LatencyLabels {
                rule: rule.to_owned(),
                sink: "kafka".to_owned(),
            }),
        }))
    }

    /// Handles for a stream reading `topic`.
    pub fn stream_tally(&self, stream: &str, topic: &str) -> StreamTally {
        let labels = TopicRule {
            topic: topic.to_owned(),
            rule: stream.to_owned(),
        };
        StreamTally {
            consumed: self.consumed.get_or_create_owned(&labels),
            schema_rejected: self.schema_rejected.get_or_create_owned(&labels),
            filtered: self.filtered.get_or_create_owned(&labels),
            http_latency: self.delivery_latency.get_or_create_owned(&LatencyLabels {
                rule: stream.to_owned(),
                sink: "http".to_owned(),
            }),
            metrics: self.clone(),
            stream: stream.to_owned(),
            topic: topic.to_owned(),
        }
    }
}

struct ProduceHandles {
    produced: Counter,
    failed: Counter,
    schema_rejected: Counter,
    latency: Histogram,
}

/// Pre-resolved counters for one (topic, rule); cloning shares them.
#[derive(Clone)]
pub struct ProduceTally(Arc<ProduceHandles>);

impl ProduceTally {
    /// Counts an acknowledged record and how long it took.
    pub fn acknowledged(&self, latency: Duration) {
        self.0.produced.inc();
        self.0.latency.observe(latency.as_secs_f64());
    }

    /// Counts acknowledged records without timing them (stream outputs, counted in batches).
    pub fn acknowledged_many(&self, records: u64) {
        self.0.produced.inc_by(records);
    }

    /// Counts a record the broker did not acknowledge.
    pub fn failed(&self) {
        self.0.failed.inc();
    }

    /// Counts a record its topic's schema refused (never produced).
    pub fn schema_rejected(&self) {
        self.0.schema_rejected.inc();
    }

    /// Records acknowledged so far (tests and benchmarks read it).
    pub fn acknowledged_count(&self) -> u64 {
        self.0.produced.get()
    }
}

impl std::fmt::Debug for ProduceTally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProduceTally")
    }
}

/// Pre-resolved counters for one stream.
#[derive(Clone)]
pub struct StreamTally {
    consumed: Counter,
    schema_rejected: Counter,
    filtered: Counter,
    http_latency: Histogram,
    metrics: KafkaMetrics,
    stream: String,
    topic: String,
}

impl StreamTally {
    /// Counts records read (added in batches by the stream loop).
    pub fn consumed(&self, records: u64) {
        self.consumed.inc_by(records);
    }

    /// Counts a source record its topic's schema refused (sent to the dead letter).
    pub fn schema_rejected(&self) {
        self.schema_rejected.inc();
    }

    /// Counts records the condition dropped.
    pub fn filtered(&self, records: u64) {
        self.filtered.inc_by(records);
    }

    /// Records one HTTP delivery's latency.
    pub fn delivered_over_http(&self, latency: Duration) {
        self.http_latency.observe(latency.as_secs_f64());
    }

    /// Counts a dead-lettered record (rare: a label lookup is fine).
    pub fn dead_lettered(&self, dead_letter_topic: &str, reason: &str) {
        self.metrics
            .dead_lettered
            .get_or_create(&DeadLetterLabels {
                topic: dead_letter_topic.to_owned(),
                rule: self.stream.clone(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Sets the lag of one source partition.
    pub fn lag(&self, partition: i32, records: i64) {
        self.metrics
            .consumer_lag
            .get_or_create(&LagLabels {
                rule: self.stream.clone(),
                topic: self.topic.clone(),
                partition,
            })
            .set(records);
    }

    /// Counts a transaction of an `exactly_once` stream that `outcome` (`committed`, `aborted`).
    pub fn transaction(&self, outcome: &str) {
        self.metrics
            .transactions
            .get_or_create(&TransactionLabels {
                rule: self.stream.clone(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The produce handles for this stream writing to `topic`.
    pub fn produce_tally(&self, topic: &str) -> ProduceTally {
        self.metrics.produce_tally(topic, &self.stream)
    }
}

impl std::fmt::Debug for StreamTally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamTally")
            .field("stream", &self.stream)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn families_are_exposed_with_topic_and_rule_labels() {
        let mut registry = Registry::default();
        let metrics = KafkaMetrics::register(&mut registry);
        metrics
            .produce_tally("captains-log", "captains_log")
            .acknowledged(Duration::from_millis(2));
        let stream = metrics.stream_tally("red_alerts", "captains-log");
        stream.consumed(3);
        stream.filtered(2);
        stream.dead_lettered("captains-log-dlq", "invalid_json");
        stream.lag(1, 42);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for expected in [
            r#"kafka_produced_records_total{topic="captains-log",rule="captains_log"} 1"#,
            r#"kafka_consumed_records_total{topic="captains-log",rule="red_alerts"} 3"#,
            r#"kafka_filtered_records_total{topic="captains-log",rule="red_alerts"} 2"#,
            r#"kafka_dead_lettered_records_total{topic="captains-log-dlq",rule="red_alerts",reason="invalid_json"} 1"#,
            r#"kafka_consumer_lag{rule="red_alerts",topic="captains-log",partition="1"} 42"#,
            r#"kafka_delivery_latency_seconds_count{rule="captains_log",sink="kafka"} 1"#,
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
    }
}
