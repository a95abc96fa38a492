//! [`KafkaRuntime`]: everything Kafka in one meshd process — the cluster (embedded or real), the
//! producer behind produce routes, the stream supervisor and the metrics — shared by every
//! bundle the process serves.
//!
//! Nothing starts until a bundle needs Kafka (a produce route, a stream or a declared topic), so a
//! gateway without events runs no broker and no client threads. A bundle load calls
//! [`KafkaRuntime::prepare`] off the request path (start the cluster, create the declared topics,
//! check the streams) and, once the bundle is accepted, [`KafkaRuntime::apply`] (swap the
//! running streams).

use std::sync::{Arc, Mutex};

use meshwork_bundle::{Bundle, RouteAction};
use tokio::runtime::Handle;

use super::metrics::KafkaMetrics;
use super::rule::RuleError;
use super::topic_schemas::{TopicSchemaLoadError, TopicSchemas};
use crate::stream::broker::embedded_broker::{BrokerProgram, EmbeddedBroker};
use crate::stream::broker::kafka_settings::{KafkaSettingError, KafkaSettings};
use crate::stream::broker::{ClusterError, KafkaCluster};
use crate::stream::produce::event_producer::{EventProducer, ProduceError, ProducerOptions};
use crate::stream::produce::produce_route::{ProduceRoute, ProduceRouteError, ProduceSettings};
use crate::stream::rules::consume::StreamOptions;
use crate::stream::rules::supervisor::{StreamPlan, StreamSupervisor};
use crate::stream::serve::{ServeRoute, ServeSettings};

/// Why Kafka could not serve a bundle.
#[derive(Debug, thiserror::Error)]
pub enum KafkaLoadError {
    /// The cluster (embedded broker or topics) failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The producer could not be created.
    #[error(transparent)]
    Producer(#[from] ProduceError),
    /// A stream does not compile.
    #[error(transparent)]
    Stream(#[from] RuleError),
    /// A produce route does not compile.
    #[error(transparent)]
    Route(#[from] ProduceRouteError),
    /// A topic's schema does not compile.
    #[error(transparent)]
    Schema(#[from] TopicSchemaLoadError),
    /// A serve route's condition does not compile.
    #[error(transparent)]
    Serve(#[from] crate::stream::event_cel::EventCelError),
}

/// The process's Kafka settings, from the command line.
#[derive(Debug, Clone, Default)]
pub struct KafkaOptions {
    /// `--brokers`; `None` for the embedded broker.
    pub brokers: Option<String>,
    /// `--kafka KEY=VALUE` settings.
    pub settings: KafkaSettings,
    /// Producer tuning for produce routes.
    pub producer: ProducerOptions,
    /// Stream tuning.
    pub streams: StreamOptions,
    /// What runs the embedded broker (meshd itself unless a test says otherwise).
    pub embedded_broker: BrokerProgram,
}

impl KafkaOptions {
    /// Options from `--brokers` and `--kafka` pairs, checked.
    pub fn from_flags(
        brokers: Option<String>,
        settings: &[(String, String)],
    ) -> Result<Self, KafkaSettingError> {
        let settings = KafkaSettings::parse(settings.iter().map(|(k, v)| format!("{k}={v}")))?;
        Ok(KafkaOptions {
            brokers,
            settings,
            ..KafkaOptions::default()
        })
    }
}

/// The started parts. Fields drop in order: the clients before the cluster, so an embedded
/// broker never vanishes under a connected client (which would log a spurious outage).
struct Started {
    producer: EventProducer,
    supervisor: Mutex<StreamSupervisor>,
    cluster: Arc<KafkaCluster>,
}

/// Kafka for one meshd process.
pub struct KafkaRuntime {
    options: KafkaOptions,
    metrics: KafkaMetrics,
    runtime: Handle,
    started: Mutex<Option<Arc<Started>>>,
    /// Turns true when the listeners close in a drain: serve routes end their streams so that
    /// clients reconnect (with `Last-Event-ID`) to an instance that stays.
    serve_closing: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for KafkaRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaRuntime")
            .field("brokers", &self.options.brokers)
            .field("settings", &self.options.settings)
            .finish()
    }
}

impl KafkaRuntime {
    /// Kafka for a process; HTTP deliveries of streams run on `runtime`. Starts nothing yet.
    pub fn new(options: KafkaOptions, metrics: KafkaMetrics, runtime: Handle) -> Self {
        KafkaRuntime {
            options,
            metrics,
            runtime,
            started: Mutex::new(None),
            serve_closing: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Whether `bundle` uses Kafka at all.
    pub fn needed_by(bundle: &Bundle) -> bool {
        !bundle.streams.is_empty()
            || !bundle.topics.is_empty()
            || bundle.gateways.iter().any(|gateway| {
                gateway.routes.iter().any(|route| {
                    matches!(
                        route.action,
                        RouteAction::Produce { .. } | RouteAction::Serve { .. }
                    )
                })
            })
    }

    fn start(&self) -> Result<Arc<Started>, KafkaLoadError> {
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(started) = started.as_ref() {
            return Ok(Arc::clone(started));
        }
        let cluster = Arc::new(KafkaCluster::from_flags(
            self.options.brokers.as_deref(),
            self.options.settings.clone(),
            &self.options.embedded_broker,
        )?);
        if cluster.embedded_broker().is_none() {
            tracing::info!(
                brokers = cluster.bootstrap_servers(),
                settings = ?self.options.settings,
                "Kafka cluster at bootstrap {}",
                cluster.bootstrap_servers()
            );
        }
        let producer = EventProducer::new(&cluster, self.options.producer.clone())?;
        let supervisor = StreamSupervisor::new(
            Arc::clone(&cluster),
            self.metrics.clone(),
            self.options.streams.clone(),
            self.runtime.clone(),
        );
        let fresh = Arc::new(Started {
            cluster,
            producer,
            supervisor: Mutex::new(supervisor),
        });
        *started = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Readies Kafka for `bundle` off the request path: starts the cluster if the bundle needs
    /// it, creates its declared topics on the embedded broker, checks its streams.
    pub fn prepare(&self, bundle: &Bundle) -> Result<StreamPlan, KafkaLoadError> {
        let plan = StreamPlan::from_bundle(bundle)?;
        if Self::needed_by(bundle) {
            let started = self.start()?;
            started.cluster.declare_topics(plan.topics())?;
        }
        Ok(plan)
    }

    /// Compiles a route's `produce` action (after [`KafkaRuntime::prepare`]); `schemas` are the
    /// bundle's topic schemas, compiled once for all its routes.
    pub fn produce_route(
        &self,
        route: &str,
        settings: ProduceSettings<'_>,
        body_limit: Option<u64>,
        schemas: &Arc<TopicSchemas>,
    ) -> Result<ProduceRoute, KafkaLoadError> {
        let started = self.start()?;
        Ok(ProduceRoute::build(
            route,
            settings,
            body_limit,
            &started.producer,
            &self.metrics,
            schemas,
        )?)
    }

    /// Compiles a route's `serve` action (after [`KafkaRuntime::prepare`]).
    pub fn serve_route(
        &self,
        route: &str,
        settings: &ServeSettings<'_>,
    ) -> Result<ServeRoute, KafkaLoadError> {
        let started = self.start()?;
        Ok(ServeRoute::build(
            route,
            settings,
            Arc::clone(&started.cluster),
            &self.metrics.serve,
            self.serve_closing.subscribe(),
        )?)
    }

    /// Makes the running streams those of `plan` (the bundle just accepted). A failure here
    /// (a thread that cannot start) is logged; the previous streams that survived keep running.
    pub fn apply(&self, plan: &StreamPlan) {
        let started = match self.started.lock() {
            Ok(started) => started.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let Some(started) = started else {
            // Kafka never started: no bundle so far used it, so no stream runs.
            return;
        };
        let mut supervisor = started.supervisor.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(error) = supervisor.apply_plan(plan) {
            tracing::error!(%error, "streams not applied");
        }
    }

    /// The running streams, sorted.
    pub fn running_streams(&self) -> Vec<String> {
        let started = self.started.lock().ok().and_then(|s| s.clone());
        started.map_or_else(Vec::new, |started| {
            let supervisor = started.supervisor.lock().unwrap_or_else(|p| p.into_inner());
            supervisor
                .running()
                .into_iter()
                .map(str::to_owned)
                .collect()
        })
    }

    /// The bootstrap servers, once started.
    pub fn bootstrap_servers(&self) -> Option<String> {
        let started = self.started.lock().ok()?.clone()?;
        Some(started.cluster.bootstrap_servers().to_owned())
    }

    /// Runs `inspect` with the embedded broker, if one runs (tests inject faults through it).
    pub fn with_embedded_broker<R>(&self, inspect: impl FnOnce(&EmbeddedBroker) -> R) -> Option<R> {
        let started = self.started.lock().ok()?.clone()?;
        started.cluster.embedded_broker().map(inspect)
    }

    /// The listeners are closing in a drain: serve routes end their SSE streams (cleanly, so
    /// clients reconnect elsewhere and resume) and answer their long polls with what they have.
    pub fn end_serve_streams(&self) {
        self.serve_closing.send_replace(true);
    }

    /// The drain's last call: produce requests still waiting for Kafka answer 503 now.
    pub fn last_call(&self) {
        let started = self.started.lock().ok().and_then(|s| s.clone());
        if let Some(started) = started {
            started.producer.last_call();
        }
    }

    /// Stops the streams (draining and committing) and flushes the producer. The clients and
    /// the cluster stay until [`KafkaRuntime::close`], so produce routes still being served
    /// answer 503 rather than see the broker vanish.
    pub fn shutdown(&self) {
        let started = self.started.lock().ok().and_then(|s| s.clone());
        if let Some(started) = started {
            started
                .supervisor
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .shutdown();
            if let Err(error) = started.producer.flush(std::time::Duration::from_secs(5)) {
                tracing::warn!(%error, "queued Kafka records not flushed at shutdown");
            }
        }
    }

    /// Releases the clients and then the cluster (an embedded broker stops once the last route
    /// holding a producer is gone too). Call after the servers stopped.
    pub fn close(&self) {
        let started = self.started.lock().ok().and_then(|mut s| s.take());
        drop(started);
    }
}
