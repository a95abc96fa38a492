//! [`StreamSupervisor`]: runs the streams of the loaded bundle and swaps them on reload.
//!
//! A new bundle is compiled completely before anything changes, so a bundle with a broken stream
//! is refused while the running streams keep going. Streams whose definition (and deliver
//! service) did not change keep running untouched; the others are stopped gracefully (outputs
//! drained, offsets committed) and started anew, resuming from their group's commits.

use std::collections::BTreeMap;
use std::sync::Arc;

use meshwork_bundle::{Bundle, Service, Stream, Topic, TopicSchema};
use tokio::runtime::Handle;

use super::consume::StreamOptions;
use super::runner::StreamHandle;
use crate::stream::broker::{ClusterError, KafkaCluster};
use crate::stream::metrics::KafkaMetrics;
use crate::stream::rule::{RuleError, StreamRule};

/// Why a bundle's streams were not applied.
#[derive(Debug, thiserror::Error)]
pub enum StreamLoadError {
    /// A stream does not compile.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// The bundle's topics could not be created on the embedded broker.
    #[error(transparent)]
    Topics(#[from] ClusterError),
    /// A stream's thread could not be started.
    #[error("stream `{stream}` could not start: {error}")]
    Start {
        /// The stream.
        stream: String,
        /// Why.
        error: String,
    },
}

/// A bundle's streams, checked: every stream compiles and its deliver service exists. Built off
/// the request path while a bundle loads; applied once the bundle is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamPlan {
    streams: Vec<Stream>,
    services: Vec<Service>,
    topics: Vec<Topic>,
}

impl StreamPlan {
    /// Checks `bundle`'s streams.
    pub fn from_bundle(bundle: &Bundle) -> Result<Self, RuleError> {
        for stream in &bundle.streams {
            compile_rule(stream, &bundle.services, &bundle.topics)?;
        }
        let delivered: Vec<&str> = bundle
            .streams
            .iter()
            .filter_map(|stream| stream.deliver.as_ref().map(|d| d.service.as_str()))
            .collect();
        Ok(StreamPlan {
            streams: bundle.streams.clone(),
            services: bundle
                .services
                .iter()
                .filter(|service| delivered.contains(&service.name.as_str()))
                .cloned()
                .collect(),
            topics: bundle.topics.clone(),
        })
    }

    /// The declared topics.
    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    /// Whether there is no stream.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}

/// What a stream's behaviour depends on; equal definitions need no restart on reload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Definition {
    stream: Stream,
    deliver_service: Option<Service>,
    /// The source topic's schema: a new schema restarts the stream like a new definition.
    input_schema: Option<TopicSchema>,
}

struct Running {
    definition: Definition,
    handle: StreamHandle,
}

/// Starts, replaces and stops the bundle's streams.
pub struct StreamSupervisor {
    cluster: Arc<KafkaCluster>,
    metrics: KafkaMetrics,
    options: StreamOptions,
    runtime: Handle,
    running: BTreeMap<String, Running>,
}

impl std::fmt::Debug for StreamSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSupervisor")
            .field("running", &self.running.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl StreamSupervisor {
    /// A supervisor with no streams yet; HTTP deliveries run on `runtime`.
    pub fn new(
        cluster: Arc<KafkaCluster>,
        metrics: KafkaMetrics,
        options: StreamOptions,
        runtime: Handle,
    ) -> Self {
        StreamSupervisor {
            cluster,
            metrics,
            options,
            runtime,
            running: BTreeMap::new(),
        }
    }

    /// Makes the running streams those of `bundle`. A stream that does not compile, or topics that
    /// cannot be created, leave everything as it was.
    pub fn apply(&mut self, bundle: &Bundle) -> Result<(), StreamLoadError> {
        self.apply_plan(&StreamPlan::from_bundle(bundle)?)
    }

    /// Makes the running streams those of `plan`.
    pub fn apply_plan(&mut self, plan: &StreamPlan) -> Result<(), StreamLoadError> {
        let mut compiled = Vec::with_capacity(plan.streams.len());
        for stream in &plan.streams {
            let rule = compile_rule(stream, &plan.services, &plan.topics)?;
            let definition = Definition {
                input_schema: input_schema(stream, &plan.topics).cloned(),
                stream: stream.clone(),
                deliver_service: stream.deliver.as_ref().and_then(|deliver| {
                    plan.services
                        .iter()
                        .find(|service| service.name == deliver.service)
                        .cloned()
                }),
            };
            compiled.push((rule, definition));
        }
        self.cluster.declare_topics(&plan.topics)?;

        let unchanged = |name: &str, definition: &Definition| {
            self.running
                .get(name)
                .is_some_and(|running| &running.definition == definition)
        };
        let to_start: Vec<_> = compiled
            .into_iter()
            .filter(|(rule, definition)| !unchanged(&rule.name, definition))
            .collect();
        let keep: Vec<String> = plan
            .streams
            .iter()
            .map(|stream| stream.name.clone())
            .filter(|name| !to_start.iter().any(|(rule, _)| &rule.name == name))
            .collect();
        let retired: Vec<Running> = {
            let names: Vec<String> = self
                .running
                .keys()
                .filter(|name| !keep.contains(name))
                .cloned()
                .collect();
            names
                .iter()
                .filter_map(|name| self.running.remove(name))
                .collect()
        };
        stop_all(retired);

        for (rule, definition) in to_start {
            let name = rule.name.clone();
            if rule.exactly_once && self.cluster.embedded_broker().is_some() {
                tracing::warn!(
                    stream = %name,
                    "exactly_once on the embedded broker is only at least once: librdkafka's mock \
                     cluster answers transactions but keeps neither their offsets nor their abort \
                     markers, so a restart reads the topic again; use --brokers with a Kafka cluster"
                );
            }
            let tally = self.metrics.stream_tally(&name, &rule.source_topic);
            let handle = StreamHandle::start(
                rule,
                self.cluster.client_config(),
                self.options.clone(),
                tally,
                self.runtime.clone(),
            )
            .map_err(|error| StreamLoadError::Start {
                stream: name.clone(),
                error: error.to_string(),
            })?;
            self.running.insert(name, Running { definition, handle });
        }
        Ok(())
    }

    /// The names of the running streams, sorted.
    pub fn running(&self) -> Vec<&str> {
        self.running.keys().map(String::as_str).collect()
    }

    /// Stops every stream gracefully.
    pub fn shutdown(&mut self) {
        let all = std::mem::take(&mut self.running).into_values().collect();
        stop_all(all);
    }

    /// Stops every stream at once without draining or committing (drills and tests: a crash).
    pub fn abandon(&mut self) {
        for (_, running) in std::mem::take(&mut self.running) {
            running.handle.abandon();
        }
    }
}

impl Drop for StreamSupervisor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Signals every stream first, then waits, so they drain in parallel.
fn stop_all(streams: Vec<Running>) {
    for running in &streams {
        running.handle.request_stop();
    }
    for running in streams {
        running.handle.stop();
    }
}

/// The schema of the topic `stream` reads, if it has one.
fn input_schema<'t>(stream: &Stream, topics: &'t [Topic]) -> Option<&'t TopicSchema> {
    topics
        .iter()
        .find(|topic| topic.name == stream.from.topic)
        .and_then(|topic| topic.schema.as_ref())
}

/// Compiles `stream` with its source topic's schema.
fn compile_rule(
    stream: &Stream,
    services: &[Service],
    topics: &[Topic],
) -> Result<StreamRule, RuleError> {
    StreamRule::compile_with_topics(stream, services, topics)
}
