//! [`EventProducer`]: writes records to Kafka for the HTTP → Kafka route action, either waiting for
//! the broker's acknowledgement (sync) or answering once the record is queued (async).
//!
//! acks is a per-client setting in librdkafka, so there is one producer per acks level, created on
//! first use. Each is a `ThreadedProducer` whose delivery callback completes the waiting request
//! directly: no extra task or channel hop per record, and batching (`linger.ms`) is shared by every
//! request in flight.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use meshwork_bundle::{Acks, ProduceMode};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, NoCustomPartitioner, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::stream::broker::KafkaCluster;
use crate::stream::metrics::ProduceTally;

/// How the producers batch and how long a record may wait for its acknowledgement.
#[derive(Debug, Clone)]
pub struct ProducerOptions {
    /// How long librdkafka waits to fill a batch (`linger.ms`).
    pub linger: Duration,
    /// How long a record may wait for its acknowledgement, retries included (`message.timeout.ms`).
    pub delivery_timeout: Duration,
    /// Records queued in the client before sends fail with [`ProduceError::QueueFull`].
    pub queue_capacity: u32,
}

impl Default for ProducerOptions {
    fn default() -> Self {
        ProducerOptions {
            linger: Duration::from_millis(1),
            delivery_timeout: Duration::from_secs(5),
            queue_capacity: 200_000,
        }
    }
}

/// Why a record was not acknowledged. The HTTP side answers every one with 503 and `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProduceError {
    /// The client's queue is full: the broker is slower than the traffic, or unreachable.
    #[error("the Kafka producer queue is full")]
    QueueFull,
    /// No acknowledgement within the delivery timeout (broker unreachable or too slow).
    #[error("no acknowledgement from Kafka within {0:?}")]
    Timeout(Duration),
    /// The record is larger than Kafka takes (`message.max.bytes`): retrying cannot help.
    #[error("the record is larger than Kafka accepts: {0}")]
    TooLarge(String),
    /// The broker refused the record or the connection failed for good.
    #[error("Kafka did not accept the record: {0}")]
    Broker(String),
    /// The producer could not be created (a configuration librdkafka refuses).
    #[error("could not create the Kafka producer: {0}")]
    Client(String),
    /// The producer shut down before the record was acknowledged.
    #[error("the Kafka producer stopped before the record was acknowledged")]
    Closed,
    /// meshd is stopping and could wait no longer: the record may or may not be written.
    #[error("meshd is shutting down: no acknowledgement from Kafka yet (the record may still be written)")]
    ShuttingDown,
}

impl ProduceError {
    /// How long a client should wait before trying again.
    pub fn retry_after(&self) -> Duration {
        match self {
            // Another instance can take it at once.
            ProduceError::QueueFull | ProduceError::ShuttingDown => Duration::from_secs(1),
            _ => Duration::from_secs(5),
        }
    }
}

/// Where an acknowledged record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// The partition.
    pub partition: i32,
    /// The record's offset in the partition.
    pub offset: i64,
}

/// What a successful send means: acknowledged (sync) or queued (async).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProduceOutcome {
    /// The broker acknowledged the record.
    Delivered(Delivered),
    /// The record is queued; its acknowledgement is counted in the metrics only.
    Queued,
}

/// Record headers, built by the caller in the order they should appear.
#[derive(Debug)]
pub struct RecordHeaders(Option<OwnedHeaders>);

impl RecordHeaders {
    /// No headers (no allocation).
    pub fn none() -> Self {
        RecordHeaders(None)
    }

    /// Room for `capacity` headers.
    pub fn with_capacity(capacity: usize) -> Self {
        RecordHeaders(Some(OwnedHeaders::new_with_capacity(capacity)))
    }

    /// Appends one header.
    pub fn push(self, name: &str, value: &[u8]) -> Self {
        let headers = self.0.unwrap_or_default().insert(Header {
            key: name,
            value: Some(value),
        });
        RecordHeaders(Some(headers))
    }

    fn into_inner(self) -> Option<OwnedHeaders> {
        self.0
    }
}

/// One record to write.
#[derive(Debug)]
pub struct EventRecord<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The key (chooses the partition), if any.
    pub key: Option<&'a [u8]>,
    /// The value.
    pub value: &'a [u8],
    /// The headers.
    pub headers: RecordHeaders,
}

/// What the delivery callback needs to finish one record.
struct PendingDelivery {
    waiter: Option<oneshot::Sender<Result<Delivered, ProduceError>>>,
    started: Instant,
    tally: Option<ProduceTally>,
}

/// The producers' context: completes waiters and counts outcomes from librdkafka's callback thread.
struct DeliveryReports {
    timeout: Duration,
}

impl ClientContext for DeliveryReports {}

impl ProducerContext<NoCustomPartitioner> for DeliveryReports {
    type DeliveryOpaque = Box<PendingDelivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, pending: Box<PendingDelivery>) {
        let outcome = match result {
            Ok(message) => {
                if let Some(tally) = &pending.tally {
                    tally.acknowledged(pending.started.elapsed());
                }
                Ok(Delivered {
                    partition: message.partition(),
                    offset: message.offset(),
                })
            }
            Err((error, message)) => {
                if let Some(tally) = &pending.tally {
                    tally.failed();
                }
                let error = delivery_error(error, self.timeout);
                if pending.waiter.is_none() {
                    tracing::warn!(topic = message.topic(), %error, "async Kafka record lost");
                }
                Err(error)
            }
        };
        if let Some(waiter) = pending.waiter {
            // The requester may have gone away (client disconnected); nothing is owed to it then.
            let _ = waiter.send(outcome);
        }
    }
}

fn delivery_error(error: &KafkaError, timeout: Duration) -> ProduceError {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::MessageTimedOut) => ProduceError::Timeout(timeout),
        Some(RDKafkaErrorCode::QueueFull) => ProduceError::QueueFull,
        Some(RDKafkaErrorCode::PurgeQueue) | Some(RDKafkaErrorCode::PurgeInflight) => {
            ProduceError::Closed
        }
        Some(RDKafkaErrorCode::MessageSizeTooLarge) => ProduceError::TooLarge(error.to_string()),
        _ => ProduceError::Broker(error.to_string()),
    }
}

type AcksProducer = ThreadedProducer<DeliveryReports>;

/// Writes records to Kafka; cheap to clone and share between request handlers.
#[derive(Clone)]
pub struct EventProducer {
    inner: Arc<ProducerSet>,
}

struct ProducerSet {
    config: ClientConfig,
    options: ProducerOptions,
    by_acks: [OnceLock<Result<AcksProducer, ProduceError>>; 3],
    /// Cancelled by a drain's last call: requests stop waiting for acknowledgements.
    last_call: CancellationToken,
}

impl std::fmt::Debug for EventProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventProducer")
            .field("options", &self.inner.options)
            .finish()
    }
}

impl EventProducer {
    /// A producer for `cluster`. Clients are created on first use per acks level; the `all`
    /// client is created now so a bad configuration fails at start-up.
    pub fn new(cluster: &KafkaCluster, options: ProducerOptions) -> Result<Self, ProduceError> {
        let producer = EventProducer {
            inner: Arc::new(ProducerSet {
                config: cluster.client_config(),
                options,
                by_acks: [OnceLock::new(), OnceLock::new(), OnceLock::new()],
                last_call: CancellationToken::new(),
            }),
        };
        producer.client(Acks::All)?;
        Ok(producer)
    }

    fn client(&self, acks: Acks) -> Result<&AcksProducer, ProduceError> {
        let slot = match acks {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => 2,
        };
        self.inner.by_acks[slot]
            .get_or_init(|| create_client(&self.inner.config, &self.inner.options, acks))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Queues a record and returns at once: [`DeliveryWait`] resolves after the delivery report
    /// for `ProduceMode::Sync`, and immediately for `Async`.
    pub fn enqueue(
        &self,
        record: EventRecord<'_>,
        acks: Acks,
        mode: ProduceMode,
        tally: Option<&ProduceTally>,
    ) -> Result<DeliveryWait, ProduceError> {
        let client = self.client(acks)?;
        let (waiter, wait) = match mode {
            ProduceMode::Sync => {
                let (sender, receiver) = oneshot::channel();
                (Some(sender), DeliveryWait::Acknowledgement(receiver))
            }
            ProduceMode::Async => (None, DeliveryWait::Queued),
        };
        let pending = Box::new(PendingDelivery {
            waiter,
            started: Instant::now(),
            tally: tally.cloned(),
        });
        let mut base = BaseRecord::with_opaque_to(record.topic, pending).payload(record.value);
        if let Some(key) = record.key {
            base = base.key(key);
        }
        if let Some(headers) = record.headers.into_inner() {
            base = base.headers(headers);
        }
        match client.send(base) {
            Ok(()) => Ok(wait),
            Err((error, refused)) => {
                if let Some(tally) = &refused.delivery_opaque.tally {
                    tally.failed();
                }
                Err(match error.rdkafka_error_code() {
                    Some(RDKafkaErrorCode::QueueFull) => ProduceError::QueueFull,
                    Some(RDKafkaErrorCode::MessageSizeTooLarge) => {
                        ProduceError::TooLarge(error.to_string())
                    }
                    _ => ProduceError::Broker(error.to_string()),
                })
            }
        }
    }

    /// Sends one record and, in sync mode, waits for the broker's acknowledgement.
    pub async fn send(
        &self,
        record: EventRecord<'_>,
        acks: Acks,
        mode: ProduceMode,
        tally: Option<&ProduceTally>,
    ) -> Result<ProduceOutcome, ProduceError> {
        self.enqueue(record, acks, mode, tally)?.await
    }

    /// The drain's last call: requests still waiting for an acknowledgement stop waiting (and
    /// answer 503), so a stopping meshd answers them instead of cutting their connections. The
    /// records stay queued and are flushed at shutdown.
    pub fn last_call(&self) {
        self.inner.last_call.cancel();
    }

    /// Resolves at the drain's last call.
    pub fn last_call_token(&self) -> CancellationToken {
        self.inner.last_call.clone()
    }

    /// Waits up to `timeout` for every queued record to be acknowledged or to fail.
    pub fn flush(&self, timeout: Duration) -> Result<(), ProduceError> {
        for slot in &self.inner.by_acks {
            if let Some(Ok(client)) = slot.get() {
                client
                    .flush(timeout)
                    .map_err(|_| ProduceError::Timeout(timeout))?;
            }
        }
        Ok(())
    }
}

fn create_client(
    config: &ClientConfig,
    options: &ProducerOptions,
    acks: Acks,
) -> Result<AcksProducer, ProduceError> {
    let mut config = config.clone();
    config
        .set(
            "acks",
            match acks {
                Acks::None => "0",
                Acks::Leader => "1",
                Acks::All => "all",
            },
        )
        .set("linger.ms", millis(options.linger))
        .set("message.timeout.ms", millis(options.delivery_timeout))
        .set(
            "queue.buffering.max.messages",
            options.queue_capacity.to_string(),
        )
        .set("batch.num.messages", "10000")
        .set("socket.nagle.disable", "true")
        // Reconnect within a second of a broker's return (librdkafka's default backs off to 10 s).
        .set("reconnect.backoff.max.ms", "1000")
        .set("enable.idempotence", "false");
    config
        .create_with_context(DeliveryReports {
            timeout: options.delivery_timeout,
        })
        .map_err(|error| ProduceError::Client(error.to_string()))
}

fn millis(duration: Duration) -> String {
    duration
        .as_millis()
        .max(if duration.is_zero() { 0 } else { 1 })
        .to_string()
}

/// The pending answer of [`EventProducer::enqueue`].
#[derive(Debug)]
pub enum DeliveryWait {
    /// Async mode: already answered.
    Queued,
    /// Sync mode: resolves with the delivery report.
    Acknowledgement(oneshot::Receiver<Result<Delivered, ProduceError>>),
}

impl std::future::Future for DeliveryWait {
    type Output = Result<ProduceOutcome, ProduceError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.get_mut() {
            DeliveryWait::Queued => std::task::Poll::Ready(Ok(ProduceOutcome::Queued)),
            DeliveryWait::Acknowledgement(receiver) => {
                std::pin::Pin::new(receiver)
                    .poll(cx)
                    .map(|report| match report {
                        Ok(Ok(delivered)) => Ok(ProduceOutcome::Delivered(delivered)),
                        Ok(Err(error)) => Err(error),
                        // The callback always answers; a dropped sender means the client was destroyed.
                        Err(_) => Err(ProduceError::Closed),
                    })
            }
        }
    }
}
