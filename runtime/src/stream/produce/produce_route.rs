//! The HTTP → Kafka route action (`produce topic …`): an admitted request becomes one record.
//!
//! The key comes from a request CEL expression (header, path param, JSON body field), the value is
//! the raw body or the JSON envelope `{method, path, headers, query, body}`, chosen request headers
//! become record headers, and the topic is fixed or a path parameter checked against an
//! allow-list. Sync routes answer 200 `{topic, partition, offset}` after the broker's
//! acknowledgement, async routes 202 once queued; broker trouble is 503 with `Retry-After`, never
//! a 2xx for a record the broker did not acknowledge in sync mode.
//!
//! Which record a request becomes (topic, value, refusals) is decided by the decision core's
//! record plan (`meshwork_policy::stream::record_plan`), which `meshc test` uses too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, StatusCode};
use meshwork_bundle::{Acks, ProduceMode, ProduceTopic, ValueFormat};
use serde_json::json;

use super::event_producer::{
    DeliveryWait, EventProducer, EventRecord, ProduceError, ProduceOutcome, RecordHeaders,
};
use crate::admit::cel::{CelInput, RequestExpression};
use crate::stream::metrics::{KafkaMetrics, ProduceTally};
use crate::stream::record_plan::{check_topic_name, envelope, topic_for, RecordRefusal};
use crate::stream::topic_schemas::{check_value, SchemaRejection, TopicSchemas};

pub use crate::stream::record_plan::DEFAULT_MAX_BODY;

/// Why a produce route cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProduceRouteError {
    /// The key expression does not compile.
    #[error("route `{route}`: the record key `{source_text}` does not compile: {message}")]
    Key {
        /// The route.
        route: String,
        /// The expression.
        source_text: String,
        /// The compiler's message.
        message: String,
    },
    /// A header to copy is not a valid header name.
    #[error("route `{route}`: `{header}` is not a valid header name")]
    Header {
        /// The route.
        route: String,
        /// The name.
        header: String,
    },
    /// A fixed or allowed topic is not a valid Kafka topic name.
    #[error("route `{route}`: {reason}")]
    Topic {
        /// The route.
        route: String,
        /// What is wrong.
        reason: String,
    },
}

/// A compiled `produce` action.
pub struct ProduceRoute {
    route: Arc<str>,
    topic: ProduceTopic,
    /// The topics known at load (the fixed one, or the allowed ones) with their counters.
    known_topics: HashMap<String, (Arc<str>, ProduceTally)>,
    key: Option<RequestExpression>,
    value: ValueFormat,
    headers: Vec<HeaderName>,
    acks: Acks,
    mode: ProduceMode,
    timeout: Option<Duration>,
    max_body: u64,
    producer: EventProducer,
    metrics: KafkaMetrics,
    /// The bundle's topic schemas, compiled once per bundle; a record for a topic with one is
    /// checked before it is produced.
    schemas: Arc<TopicSchemas>,
}

impl std::fmt::Debug for ProduceRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProduceRoute")
            .field("route", &self.route)
            .field("acks", &self.acks)
            .field("mode", &self.mode)
            .finish()
    }
}

/// The settings of a bundle `produce` action (`RouteAction::Produce`'s fields).
#[derive(Debug, Clone, Copy)]
pub struct ProduceSettings<'a> {
    /// The topic.
    pub topic: &'a ProduceTopic,
    /// The key expression.
    pub key: Option<&'a str>,
    /// How the value is built.
    pub value: ValueFormat,
    /// Request headers copied to record headers.
    pub headers: &'a [String],
    /// Acknowledgements.
    pub acks: Acks,
    /// When the client is answered.
    pub mode: ProduceMode,
    /// The route's timeout: the longest a sync route waits for the acknowledgement.
    pub timeout: Option<Duration>,
}

/// The request as the produce action needs it (borrowed from the server's request).
#[derive(Clone, Copy)]
pub struct ProduceInput<'a> {
    /// The method.
    pub method: &'a Method,
    /// The normalized path.
    pub path: &'a str,
    /// The raw query, if any.
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// Path template parameters.
    pub params: &'a [(&'a str, &'a str)],
    /// The whole body.
    pub body: &'a [u8],
    /// What the key expression sees (the admitted request, with its body).
    pub cel: CelInput<'a>,
    /// The produce span's `traceparent` (and the caller's `tracestate`, when kept), written
    /// into the record's headers so stream rules and deliveries continue the trace.
    pub trace: Option<RecordTrace<'a>>,
}

/// The trace context a record carries.
#[derive(Debug, Clone, Copy)]
pub struct RecordTrace<'a> {
    /// The `traceparent` header's value.
    pub traceparent: [u8; crate::trace::TRACEPARENT_LEN],
    /// The `tracestate` header's value, if any.
    pub tracestate: Option<&'a [u8]>,
}

/// A refused or failed produce, with the answer it gets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProduceFailure {
    /// The body is larger than the route takes.
    #[error("the body is larger than {0} bytes")]
    BodyTooLarge(u64),
    /// The body could not be read (the client went away, broken chunking).
    #[error("the body could not be read: {0}")]
    BodyUnreadable(String),
    /// The client paused longer than meshd waits between two pieces of the body (408).
    #[error("the body could not be read: {0}")]
    BodyStalled(String),
    /// The path parameter names a topic the route may not write.
    #[error("topic `{0}` is not one this route produces to")]
    TopicNotAllowed(String),
    /// The path parameter is not a valid Kafka topic name.
    #[error("`{0}` is not a valid Kafka topic name")]
    BadTopic(String),
    /// The key expression failed on this request.
    #[error("the record key could not be computed: {0}")]
    Key(String),
    /// The record value does not pass the topic's schema (never produced).
    #[error("topic `{topic}` refuses the record: {rejection}")]
    Schema {
        /// The topic.
        topic: String,
        /// Why.
        rejection: SchemaRejection,
    },
    /// The broker did not take the record (503, except a record too large for Kafka: 413).
    #[error(transparent)]
    Unavailable(#[from] ProduceError),
}

impl From<RecordRefusal> for ProduceFailure {
    fn from(refusal: RecordRefusal) -> Self {
        match refusal {
            RecordRefusal::BodyTooLarge(limit) => ProduceFailure::BodyTooLarge(limit),
            RecordRefusal::TopicNotAllowed(topic) => ProduceFailure::TopicNotAllowed(topic),
            RecordRefusal::BadTopic(topic) => ProduceFailure::BadTopic(topic),
            RecordRefusal::Key(reason) => ProduceFailure::Key(reason),
        }
    }
}

/// The answer to send: a status, a JSON body and, for 503, `Retry-After` in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceReply {
    /// The status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Bytes,
    /// Seconds for `Retry-After`.
    pub retry_after: Option<u64>,
    /// Why it failed, for the access log.
    pub error: Option<String>,
}

impl ProduceFailure {
    /// The HTTP status of this failure.
    pub fn status(&self) -> StatusCode {
        match self {
            ProduceFailure::BodyTooLarge(_)
            | ProduceFailure::Unavailable(ProduceError::TooLarge(_)) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ProduceFailure::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
            ProduceFailure::BodyStalled(_) => StatusCode::REQUEST_TIMEOUT,
            ProduceFailure::TopicNotAllowed(_) => StatusCode::NOT_FOUND,
            ProduceFailure::BadTopic(_) | ProduceFailure::Key(_) => StatusCode::BAD_REQUEST,
            ProduceFailure::Schema {
                rejection: SchemaRejection::NotJson(_),
                ..
            } => StatusCode::BAD_REQUEST,
            ProduceFailure::Schema { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ProduceFailure::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The answer, in the gateway's JSON error shape.
    pub fn reply(&self, route: &str) -> ProduceReply {
        let status = self.status();
        let reason = self.to_string();
        let mut body = json!({
            "status": status.as_u16(),
            "error": status.canonical_reason().unwrap_or("Error"),
            "reason": reason,
            "route": route,
        });
        if let ProduceFailure::Schema { topic, rejection } = self {
            body["topic"] = json!(topic);
            if let SchemaRejection::Violation(violation) = rejection {
                body["pointer"] = json!(violation.pointer);
                body["keyword"] = json!(violation.keyword);
            }
        }
        ProduceReply {
            status,
            body: Bytes::from(body.to_string()),
            retry_after: match self {
                ProduceFailure::Unavailable(ProduceError::TooLarge(_)) => None,
                ProduceFailure::Unavailable(error) => Some(error.retry_after().as_secs().max(1)),
                _ => None,
            },
            error: Some(reason),
        }
    }
}

/// A record handed to the producer, waiting for its answer.
#[derive(Debug)]
pub struct PendingProduce {
    /// The record's topic.
    pub topic: Arc<str>,
    wait: DeliveryWait,
    /// The route's timeout, from when the record was handed over.
    timeout: Option<Duration>,
    last_call: tokio_util::sync::CancellationToken,
}

impl PendingProduce {
    /// Waits for the broker (sync; at most the route's timeout) or returns at once (async) and
    /// builds the answer. A record not acknowledged in time is a 503: the broker may still take it
    /// later (at-least-once), but the client is never told it was written when that is not known.
    /// A drain's last call ends the wait with a 503 too.
    pub async fn reply(self, route: &str) -> ProduceReply {
        let wait = self.wait;
        let timeout = self.timeout;
        let waited = async move {
            match timeout {
                Some(timeout) => tokio::time::timeout(timeout, wait)
                    .await
                    .unwrap_or(Err(ProduceError::Timeout(timeout))),
                None => wait.await,
            }
        };
        let outcome = tokio::select! {
            biased;
            outcome = waited => outcome,
            () = self.last_call.cancelled() => Err(ProduceError::ShuttingDown),
        };
        match outcome {
            Ok(ProduceOutcome::Delivered(delivered)) => ProduceReply {
                status: StatusCode::OK,
                body: Bytes::from(
                    json!({
                        "topic": &*self.topic,
                        "partition": delivered.partition,
                        "offset": delivered.offset,
                    })
                    .to_string(),
                ),
                retry_after: None,
                error: None,
            },
            Ok(ProduceOutcome::Queued) => ProduceReply {
                status: StatusCode::ACCEPTED,
                body: Bytes::from(json!({ "topic": &*self.topic, "queued": true }).to_string()),
                retry_after: None,
                error: None,
            },
            Err(error) => ProduceFailure::Unavailable(error).reply(route),
        }
    }
}

impl ProduceRoute {
    /// Compiles a route's `produce` action; `body_limit` is the route's admission limit, if any.
    pub fn build(
        route: &str,
        settings: ProduceSettings<'_>,
        body_limit: Option<u64>,
        producer: &EventProducer,
        metrics: &KafkaMetrics,
        schemas: &Arc<TopicSchemas>,
    ) -> Result<Self, ProduceRouteError> {
        let bad_topic = |reason: String| ProduceRouteError::Topic {
            route: route.to_owned(),
            reason,
        };
        let named: &[String] = match settings.topic {
            ProduceTopic::Fixed { name } => std::slice::from_ref(name),
            ProduceTopic::Param { allow, .. } => allow.as_deref().unwrap_or_default(),
        };
        let mut known_topics = HashMap::new();
        for name in named {
            check_topic_name(name).map_err(bad_topic)?;
            let entry = (name.as_str().into(), metrics.produce_tally(name, route));
            known_topics.insert(name.clone(), entry);
        }
        let key = settings
            .key
            .map(|source| {
                RequestExpression::compile(source).map_err(|error| ProduceRouteError::Key {
                    route: route.to_owned(),
                    source_text: source.to_owned(),
                    message: error.message,
                })
            })
            .transpose()?;
        let headers = settings
            .headers
            .iter()
            .map(|name| {
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| ProduceRouteError::Header {
                    route: route.to_owned(),
                    header: name.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ProduceRoute {
            route: route.into(),
            topic: settings.topic.clone(),
            known_topics,
            key,
            value: settings.value,
            headers,
            acks: settings.acks,
            mode: settings.mode,
            timeout: settings.timeout,
            max_body: body_limit.unwrap_or(DEFAULT_MAX_BODY),
            producer: producer.clone(),
            metrics: metrics.clone(),
            schemas: Arc::clone(schemas),
        })
    }

    /// The largest body to read (the server answers 413 past it).
    pub fn max_body(&self) -> u64 {
        self.max_body
    }

    /// Whether the key expression reads `request.body` (the server passes the body in the CEL
    /// input's facts either way).
    pub fn key_reads_body(&self) -> bool {
        self.key.as_ref().is_some_and(RequestExpression::reads_body)
    }

    /// Builds and queues the record; the returned handle waits for the broker in sync mode.
    pub fn submit(&self, input: ProduceInput<'_>) -> Result<PendingProduce, ProduceFailure> {
        let (topic, tally) = self.topic_of(&input)?;
        let envelope_bytes;
        let value: &[u8] = match self.value {
            ValueFormat::Raw => input.body,
            ValueFormat::Envelope => {
                envelope_bytes = envelope(
                    input.method,
                    input.path,
                    input.query,
                    input.headers,
                    input.body,
                );
                &envelope_bytes
            }
        };
        if let Some(schema) = self.schemas.get(&topic) {
            if let Err(rejection) = check_value(schema, value) {
                tally.schema_rejected();
                return Err(ProduceFailure::Schema {
                    topic: topic.to_string(),
                    rejection,
                });
            }
        }
        let send = |key: Option<&[u8]>| {
            let record = EventRecord {
                topic: &topic,
                key,
                value,
                headers: self.record_headers(input.headers, input.trace.as_ref()),
            };
            self.producer
                .enqueue(record, self.acks, self.mode, Some(&tally))
        };
        let wait = match &self.key {
            None => send(None),
            Some(expression) => expression
                .with_bytes(input.cel, send)
                .map_err(|error| ProduceFailure::Key(error.to_string()))?,
        }?;
        Ok(PendingProduce {
            topic,
            wait,
            timeout: self.timeout,
            last_call: self.producer.last_call_token(),
        })
    }

    /// The record's topic (decided by the record plan) and its counter.
    fn topic_of(
        &self,
        input: &ProduceInput<'_>,
    ) -> Result<(Arc<str>, ProduceTally), ProduceFailure> {
        let name = topic_for(&self.topic, input.params)?;
        Ok(match self.known_topics.get(name) {
            Some((name, tally)) => (Arc::clone(name), tally.clone()),
            None => (name.into(), self.metrics.produce_tally(name, &self.route)),
        })
    }

    fn record_headers(
        &self,
        request: &HeaderMap,
        trace: Option<&RecordTrace<'_>>,
    ) -> RecordHeaders {
        if self.headers.is_empty() && trace.is_none() {
            return RecordHeaders::none();
        }
        let mut headers = RecordHeaders::with_capacity(self.headers.len() + 2);
        for name in &self.headers {
            // A traced record carries this hop's context, not the caller's.
            if trace.is_some() && matches!(name.as_str(), "traceparent" | "tracestate") {
                continue;
            }
            for value in request.get_all(name) {
                headers = headers.push(name.as_str(), value.as_bytes());
            }
        }
        if let Some(trace) = trace {
            headers = headers.push("traceparent", &trace.traceparent);
            if let Some(state) = trace.tracestate {
                headers = headers.push("tracestate", state);
            }
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_plan_refusals_keep_their_statuses() {
        for refusal in [
            RecordRefusal::BodyTooLarge(1),
            RecordRefusal::TopicNotAllowed("x".into()),
            RecordRefusal::BadTopic("a b".into()),
            RecordRefusal::Key("no such key".into()),
        ] {
            let status = refusal.status();
            let failure = ProduceFailure::from(refusal.clone());
            assert_eq!(failure.status().as_u16(), status, "{refusal:?}");
            assert_eq!(failure.to_string(), refusal.to_string());
        }
    }

    #[test]
    fn failures_map_to_statuses_and_only_503_carries_retry_after() {
        let unavailable = ProduceFailure::Unavailable(ProduceError::QueueFull).reply("log");
        assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.retry_after, Some(1));
        let timeout =
            ProduceFailure::Unavailable(ProduceError::Timeout(std::time::Duration::from_secs(5)))
                .reply("log");
        assert_eq!(timeout.retry_after, Some(5));
        let not_allowed = ProduceFailure::TopicNotAllowed("secret".into()).reply("log");
        assert_eq!(not_allowed.status, StatusCode::NOT_FOUND);
        assert_eq!(not_allowed.retry_after, None);
        assert_eq!(
            ProduceFailure::Key("no such key".into()).status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn a_schema_refusal_is_422_with_pointer_and_keyword_and_not_json_is_400() {
        let violation = ProduceFailure::Schema {
            topic: "captains-log".into(),
            rejection: SchemaRejection::Violation(meshwork_bundle::Violation {
                pointer: "/severity".into(),
                keyword: "enum".into(),
                message: "\"plaid\" is not one of the values".into(),
            }),
        }
        .reply("log");
        assert_eq!(violation.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(violation.retry_after, None);
        let body: serde_json::Value = serde_json::from_slice(&violation.body).unwrap();
        assert_eq!(
            (&body["pointer"], &body["keyword"], &body["topic"]),
            (&json!("/severity"), &json!("enum"), &json!("captains-log"))
        );
        let not_json = ProduceFailure::Schema {
            topic: "captains-log".into(),
            rejection: SchemaRejection::NotJson("expected value".into()),
        }
        .reply("log");
        assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
        let body: serde_json::Value = serde_json::from_slice(&not_json.body).unwrap();
        assert!(body.get("pointer").is_none());
    }
}
