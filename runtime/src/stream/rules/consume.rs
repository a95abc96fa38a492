//! One run of a stream: a consumer-group member that reads the source topic, judges each record,
//! writes the outputs, and commits source offsets only once those outputs are acknowledged.
//!
//! Everything happens on one thread: the consumer is polled, records are judged and produced, and
//! the producer's delivery reports are served (`BaseProducer::poll`) in the same loop. Reports and
//! HTTP deliveries land in a small completion queue that the loop drains, so the offset tracker
//! needs no lock. A failure that would lose a record (its dead letter not acknowledged) ends the
//! run with an error; the runner starts a fresh one, which resumes from the last commit.
//!
//! An `exactly_once` stream commits differently: at each commit point it waits for every output
//! of the records read so far, then commits them and the source offsets in one Kafka transaction
//! (see [`super::transaction`]). A failed commit aborts the transaction and ends the run; a
//! revocation aborts it (the partitions' next owner starts from the last committed transaction).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseRecord, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

mod commit;

use super::commit_window::CommitWindow;
use super::completion::{
    from_opaque, opaque, Completion, CompletionQueue, DeliveredRecord, OutputReports,
};
use super::dead_letter::{dead_letter_headers, DeadLetterCause, PRODUCE_FAILED};
use super::group_watch::GroupWatch;
use super::offset_tracker::{OffsetTracker, Sequence};
use super::rule_trace::RuleTrace;
pub use super::stream_options::StreamOptions;
use super::stream_options::BURST;
use super::transaction::{transactional_settings, StreamTransaction};
use crate::stream::deliver::{Deliverer, DeliveryRequest};
use crate::stream::event_cel::{EventEvaluator, EventHeaders, RecordView};
use crate::stream::kafka_headers::KafkaHeaders;
use crate::stream::metrics::{ProduceTally, StreamTally};
use crate::stream::rule::{Reshaped, StreamRule, Verdict};

/// Why a run of a stream ended early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamRunError {
    /// A Kafka client could not be created or subscribed.
    #[error("stream `{stream}`: {action}: {error}")]
    Client {
        /// The stream.
        stream: String,
        /// What was being done.
        action: &'static str,
        /// librdkafka's explanation.
        error: String,
    },
    /// An `exactly_once` stream's transaction could not commit; it was aborted and the run ends,
    /// so the next one resumes from the last committed transaction.
    #[error("stream `{stream}`: transaction aborted: {error}")]
    Transaction {
        /// The stream.
        stream: String,
        /// Why.
        error: String,
    },
    /// A dead letter was not acknowledged: the record cannot be given up on, so the run stops
    /// before committing past it.
    #[error(
        "stream `{stream}`: dead letter for {topic}/{partition}@{offset} not acknowledged: {error}"
    )]
    DeadLetter {
        /// The stream.
        stream: String,
        /// The source topic.
        topic: String,
        /// The source partition.
        partition: i32,
        /// The source offset.
        offset: i64,
        /// Why.
        error: String,
    },
}

/// How a run ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Stopped on request after draining and committing.
    Stopped,
    /// Abandoned on request: nothing awaited, nothing more committed (as if the process died).
    Abandoned,
}

/// Stop requests shared between a runner and its run.
#[derive(Debug, Default)]
pub struct StopSignal {
    stop: AtomicBool,
    abandon: AtomicBool,
}

impl StopSignal {
    /// Asks for a graceful stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Asks for an immediate stop without draining or committing.
    pub fn abandon(&self) {
        self.abandon.store(true, Ordering::Release);
        self.stop();
    }

    /// Whether a stop was asked for.
    pub fn is_stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn is_abandoning(&self) -> bool {
        self.abandon.load(Ordering::Acquire)
    }
}

/// How long an output may wait for its acknowledgement; inside a transaction, no longer than the
/// transaction may stay open (librdkafka refuses the configuration otherwise).
fn message_timeout(rule: &StreamRule, options: &StreamOptions) -> Duration {
    if rule.exactly_once {
        options.delivery_timeout.min(options.transaction_timeout)
    } else {
        options.delivery_timeout
    }
}

/// Everything one run holds: the consumer, whose messages borrow it, and the rest.
pub(crate) struct StreamRun<'r> {
    consumer: BaseConsumer<GroupWatch>,
    state: RunState<'r>,
}

/// The run's state apart from the consumer.
struct RunState<'r> {
    rule: &'r StreamRule,
    options: &'r StreamOptions,
    signal: &'r StopSignal,
    tally: &'r StreamTally,
    target_tally: Option<ProduceTally>,
    deliverer: Option<Arc<Deliverer>>,
    producer: ThreadedProducer<OutputReports>,
    completions: Arc<CompletionQueue>,
    drained: Vec<Completion>,
    tracker: OffsetTracker,
    window: CommitWindow,
    paused: bool,
    /// The open transaction of an `exactly_once` stream.
    transaction: Option<StreamTransaction>,
    /// Completions of records read before this sequence belong to an aborted transaction.
    stale_below: Sequence,
    evaluator: EventEvaluator,
    last_commit: Instant,
    consumed: u64,
    filtered: u64,
    produced: u64,
}

impl<'r> StreamRun<'r> {
    /// Joins the group and subscribes.
    pub(crate) fn start(
        rule: &'r StreamRule,
        base: &ClientConfig,
        options: &'r StreamOptions,
        signal: &'r StopSignal,
        tally: &'r StreamTally,
        deliverer: Option<Arc<Deliverer>>,
    ) -> Result<Self, StreamRunError> {
        let failed = |action: &'static str| {
            let stream = rule.name.clone();
            move |error: KafkaError| StreamRunError::Client {
                stream,
                action,
                error: error.to_string(),
            }
        };
        let mut consumer_config = base.clone();
        if let Some(instance) = &options.instance_id {
            consumer_config.set("group.instance.id", format!("{instance}-{}", rule.name));
        }
        let consumer: BaseConsumer<GroupWatch> = consumer_config
            .set("group.id", &rule.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // Never read an upstream producer's aborted or still-open transactions.
            .set("isolation.level", "read_committed")
            .set("fetch.wait.max.ms", "100")
            // With a backlog the prefetch queue fills, and librdkafka then pauses fetching for
            // fetch.queue.backoff.ms (1 s by default) while the stream drains it in a fraction of
            // that: measured here, a 4x throughput loss. Refill promptly instead.
            .set("fetch.queue.backoff.ms", "10")
            .set(
                "session.timeout.ms",
                options.session_timeout.as_millis().to_string(),
            )
            .set("statistics.interval.ms", "5000")
            .create_with_context(GroupWatch::new(&rule.source_topic, tally.clone()))
            .map_err(failed("creating the consumer"))?;
        consumer
            .subscribe(&[&rule.source_topic])
            .map_err(failed("subscribing"))?;
        let completions = Arc::new(CompletionQueue::default());
        let mut producer_config = base.clone();
        if rule.exactly_once {
            transactional_settings(
                &mut producer_config,
                rule,
                options.transaction_timeout,
                options.instance_id.as_deref(),
            );
        }
        let producer: ThreadedProducer<OutputReports> = producer_config
            .set("acks", "all")
            .set("linger.ms", options.linger.as_millis().to_string())
            .set(
                "message.timeout.ms",
                message_timeout(rule, options)
                    .as_millis()
                    .max(1)
                    .to_string(),
            )
            .set("batch.num.messages", "10000")
            .set(
                "queue.buffering.max.messages",
                (options.max_in_flight * 2 + 1_000).to_string(),
            )
            .set("reconnect.backoff.max.ms", "1000")
            .create_with_context(OutputReports {
                completions: Arc::clone(&completions),
            })
            .map_err(failed("creating the producer"))?;
        let transaction = if rule.exactly_once {
            Some(
                StreamTransaction::start(&producer, options.delivery_timeout)
                    .map_err(failed("starting transactions"))?,
            )
        } else {
            None
        };
        let state = RunState {
            rule,
            options,
            signal,
            tally,
            target_tally: rule
                .target
                .as_ref()
                .map(|target| tally.produce_tally(&target.topic)),
            deliverer,
            producer,
            completions,
            drained: Vec::new(),
            tracker: OffsetTracker::new(),
            window: CommitWindow::new(options.uncommitted_limit()),
            paused: false,
            transaction,
            stale_below: 0,
            evaluator: EventEvaluator::default(),
            last_commit: Instant::now(),
            consumed: 0,
            filtered: 0,
            produced: 0,
        };
        Ok(StreamRun { consumer, state })
    }

    /// Runs until stopped (`Ok`) or until a record would be lost (`Err`).
    pub(crate) fn run(self) -> Result<RunEnd, StreamRunError> {
        let StreamRun {
            consumer,
            mut state,
        } = self;
        while !state.signal.is_stopping() {
            state.settle(&consumer)?;
            state.gate(&consumer);
            if state.tracker.in_flight() >= state.options.max_in_flight {
                state.completions.wait(Duration::from_millis(1));
                continue;
            }
            let timeout = if state.tracker.in_flight() > 0 {
                Duration::from_millis(1)
            } else {
                Duration::from_millis(100)
            };
            // Read a burst before serving reports: the per-record path stays short.
            let mut wait = timeout;
            for _ in 0..BURST {
                match consumer.poll(wait) {
                    Some(Ok(record)) => state.process(&record),
                    Some(Err(error)) => {
                        tracing::warn!(stream = %state.rule.name, %error, "consumer error");
                        break;
                    }
                    None => break,
                }
                if state.tracker.in_flight() >= state.options.max_in_flight {
                    break;
                }
                wait = Duration::ZERO;
            }
            state.commit_when_due(&consumer, false)?;
        }
        if state.signal.is_abandoning() {
            return Ok(RunEnd::Abandoned);
        }
        state.drain(&consumer)?;
        Ok(RunEnd::Stopped)
    }
}

impl RunState<'_> {
    /// Applies finished outputs and revocations to the tracker.
    fn settle(&mut self, consumer: &BaseConsumer<GroupWatch>) -> Result<(), StreamRunError> {
        let revoked = consumer.context().take_revoked();
        if !revoked.is_empty() {
            if self.transaction.is_some() {
                self.abort_transaction(consumer, &revoked)?;
            } else {
                self.commit_when_due(consumer, true)?;
                self.tracker.revoke(&revoked);
                self.window.forget();
            }
        }
        self.completions.take_into(&mut self.drained);
        let mut drained = std::mem::take(&mut self.drained);
        for completion in drained.drain(..) {
            self.apply(completion)?;
        }
        self.drained = drained;
        Ok(())
    }

    fn apply(&mut self, completion: Completion) -> Result<(), StreamRunError> {
        if completion.sequence() < self.stale_below {
            // An output of an aborted transaction: its record will be read and processed again.
            return Ok(());
        }
        match completion {
            Completion::Acknowledged {
                sequence,
                dead_letter,
            } => {
                if !dead_letter {
                    self.produced += 1;
                }
                self.tracker.complete(sequence);
            }
            Completion::Delivered { sequence } => self.tracker.complete(sequence),
            Completion::TargetFailed {
                sequence,
                error,
                record,
            } => {
                let headers = record.headers().map(|h| h.as_borrowed());
                self.dead_letter(
                    sequence,
                    record.key(),
                    record.payload(),
                    headers,
                    PRODUCE_FAILED,
                    &error,
                );
            }
            Completion::DeliverFailed {
                sequence,
                failure,
                record,
            } => {
                let headers = record.headers.as_ref().map(OwnedHeaders::as_borrowed);
                self.dead_letter(
                    sequence,
                    record.key.as_deref(),
                    Some(&record.request.body[..]),
                    headers,
                    failure.reason(),
                    &failure.to_string(),
                );
            }
            Completion::DeadLetterFailed { sequence, error } => {
                let (partition, offset) = self.tracker.source(sequence).unwrap_or((-1, -1));
                return Err(StreamRunError::DeadLetter {
                    stream: self.rule.name.clone(),
                    topic: self.rule.source_topic.clone(),
                    partition,
                    offset,
                    error,
                });
            }
        }
        Ok(())
    }

    /// Judges one record and sends its outputs.
    fn process(&mut self, message: &BorrowedMessage<'_>) {
        self.consumed += 1;
        if let Some(transaction) = &mut self.transaction {
            transaction.touched();
        }
        let headers = message.headers();
        let event_headers = headers.map(KafkaHeaders);
        let view = RecordView {
            topic: &self.rule.source_topic,
            partition: message.partition(),
            offset: message.offset(),
            key: message.key(),
            value: message.payload(),
            headers: event_headers.as_ref().map(|h| h as &dyn EventHeaders),
            timestamp_ms: message.timestamp().to_millis(),
        };
        // A traced record's outputs carry the rule's span as their parent.
        let trace = RuleTrace::begin(headers, &self.options.exporter);
        let headers = trace.as_ref().map(|t| t.headers.as_borrowed()).or(headers);
        let place = (view.partition, view.offset);
        let (verdict, error) = match self.rule.judge(&self.evaluator, &view) {
            Verdict::Filtered => {
                self.filtered += 1;
                self.tracker.admit(view.partition, view.offset, 0);
                ("filtered", None)
            }
            Verdict::Failed(error) => {
                let sequence = self.tracker.admit(view.partition, view.offset, 1);
                self.dead_letter(
                    sequence,
                    view.key,
                    view.value,
                    headers,
                    error.reason(),
                    &error.to_string(),
                );
                ("dead_lettered", Some(error.to_string()))
            }
            Verdict::Refused(rejection) => {
                self.tally.schema_rejected();
                let sequence = self.tracker.admit(view.partition, view.offset, 1);
                self.dead_letter(
                    sequence,
                    view.key,
                    view.value,
                    headers,
                    rejection.reason(),
                    &rejection.to_string(),
                );
                ("dead_lettered", Some(rejection.to_string()))
            }
            Verdict::Pass { key, value } => {
                let sequence = self
                    .tracker
                    .admit(view.partition, view.offset, self.rule.outputs());
                let key = match &key {
                    Reshaped::Keep => view.key,
                    Reshaped::Replace(bytes) => bytes.as_deref(),
                };
                let value = match &value {
                    Reshaped::Keep => view.value,
                    Reshaped::Replace(bytes) => bytes.as_deref(),
                };
                if let Some(target) = &self.rule.target {
                    let mut record = BaseRecord::<[u8], [u8], usize>::with_opaque_to(
                        &target.topic,
                        opaque(sequence, false),
                    );
                    record.key = key;
                    record.payload = value;
                    record.headers = headers.map(|headers| headers.detach());
                    self.send(record);
                }
                if self.deliverer.is_some() {
                    self.deliver(sequence, &view, headers, key, value, trace.as_ref());
                }
                ("passed", None)
            }
        };
        if let Some(trace) = trace {
            trace.finish(
                &self.options.exporter,
                self.rule,
                place,
                verdict,
                error.as_deref(),
            );
        }
    }

    /// Sends a record, waiting (and serving reports) while the producer's queue is full.
    fn send(&mut self, mut record: BaseRecord<'_, [u8], [u8], usize>) {
        loop {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((error, back))
                    if error.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) =>
                {
                    // The producer thread is sending; give it the CPU rather than spin.
                    std::thread::sleep(Duration::from_micros(200));
                    record = back;
                }
                Err((error, back)) => {
                    // Not retriable (an invalid topic name, a record too large): report it like a
                    // failed delivery so it reaches the dead letter.
                    let (sequence, dead_letter) = from_opaque(back.delivery_opaque);
                    let completion = if dead_letter {
                        Completion::DeadLetterFailed {
                            sequence,
                            error: error.to_string(),
                        }
                    } else {
                        let mut owned = OwnedMessage::new(
                            back.payload.map(<[u8]>::to_vec),
                            back.key.map(<[u8]>::to_vec),
                            back.topic.to_owned(),
                            rdkafka::Timestamp::NotAvailable,
                            -1,
                            -1,
                            None,
                        );
                        owned = owned.replace_headers(back.headers);
                        Completion::TargetFailed {
                            sequence,
                            error: error.to_string(),
                            record: owned,
                        }
                    };
                    self.completions.push(completion);
                    return;
                }
            }
        }
    }

    fn deliver(
        &mut self,
        sequence: Sequence,
        view: &RecordView<'_>,
        headers: Option<&rdkafka::message::BorrowedHeaders>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        trace: Option<&RuleTrace>,
    ) {
        let Some(deliverer) = self.deliverer.clone() else {
            return;
        };
        let permit = loop {
            if let Some(permit) = deliverer.try_reserve() {
                break permit;
            }
            // The service is at its concurrency limit: wait for a delivery to finish.
            std::thread::sleep(Duration::from_micros(500));
        };
        let pairs = headers.map(|headers| {
            headers
                .iter()
                .map(|header| (header.key, header.value.unwrap_or_default()))
                .collect::<Vec<_>>()
        });
        let mut request = DeliveryRequest::from_record(
            view.topic,
            view.partition,
            view.offset,
            key,
            value.unwrap_or_default(),
            pairs.iter().flatten().copied(),
        );
        let service = self
            .rule
            .deliver
            .as_ref()
            .map_or("", |d| d.settings.service.as_str());
        let hop = trace.map(|trace| trace.deliver_hop(&self.options.exporter, service));
        if let Some(hop) = &hop {
            request.set_trace(&hop.traceparent());
        }
        let key = key.map(<[u8]>::to_vec);
        let owned_headers = headers.map(|headers| headers.detach());
        let completions = Arc::clone(&self.completions);
        deliverer.spawn(permit, request, move |outcome, request| {
            if let Some(hop) = hop {
                hop.finish(outcome.as_ref().err());
            }
            let completion = match outcome {
                Ok(()) => Completion::Delivered { sequence },
                Err(failure) => Completion::DeliverFailed {
                    sequence,
                    failure,
                    record: Box::new(DeliveredRecord {
                        key,
                        headers: owned_headers,
                        request,
                    }),
                },
            };
            completions.push(completion);
        });
    }

    /// Sends a failed record to the dead letter, or, without one, logs and drops it.
    fn dead_letter(
        &mut self,
        sequence: Sequence,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: Option<&rdkafka::message::BorrowedHeaders>,
        reason: &str,
        error: &str,
    ) {
        let (partition, offset) = self.tracker.source(sequence).unwrap_or((-1, -1));
        let Some(topic) = &self.rule.dead_letter else {
            tracing::warn!(
                stream = %self.rule.name, partition, offset, reason, error,
                "record dropped: the stream has no dead_letter topic"
            );
            self.tally.dead_lettered("", reason);
            self.tracker.complete(sequence);
            return;
        };
        self.tally.dead_lettered(topic, reason);
        let cause = DeadLetterCause {
            stream: &self.rule.name,
            topic: &self.rule.source_topic,
            partition,
            offset,
            reason,
            error,
        };
        let mut record =
            BaseRecord::<[u8], [u8], usize>::with_opaque_to(topic, opaque(sequence, true));
        record.key = key;
        record.payload = value;
        record.headers = Some(dead_letter_headers(headers, &cause));
        self.send(record);
    }
}
