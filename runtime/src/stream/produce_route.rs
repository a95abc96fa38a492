//! The HTTP → Kafka route action (`produce topic …`): an admitted request becomes one record.
//!
//! The key comes from a request CEL expression (header, path param, JSON body field), the value is
//! the raw body or the JSON envelope `{method, path, headers, query, body}`, chosen request headers
//! become record headers, and the topic is fixed or a path parameter checked against an
//! allow-list. Sync routes answer 200 `{topic, partition, offset}` after the broker's
//! acknowledgement, async routes 202 once queued; broker trouble is 503 with `Retry-After`, never
//! a 2xx for a record the broker did not acknowledge in sync mode.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, StatusCode};
use meshwork_bundle::{Acks, ProduceMode, ProduceTopic, ValueFormat};
use serde_json::json;

use super::metrics::{KafkaMetrics, ProduceTally};
use super::produce::{
    DeliveryWait, EventProducer, EventRecord, ProduceError, ProduceOutcome, RecordHeaders,
};
use crate::admit::cel::{CelInput, RequestExpression};

/// The largest body a produce route takes when its admission sets no `body_limit`: librdkafka's
/// default `message.max.bytes` is about 1 MB, so larger records would be refused anyway.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;

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

/// Where a route's records go.
enum TopicChoice {
    Fixed {
        name: Arc<str>,
        tally: ProduceTally,
    },
    Param {
        param: String,
        allowed: Option<HashMap<String, (Arc<str>, ProduceTally)>>,
    },
}

/// A compiled `produce` action.
pub struct ProduceRoute {
    route: Arc<str>,
    topic: TopicChoice,
    key: Option<RequestExpression>,
    value: ValueFormat,
    headers: Vec<HeaderName>,
    acks: Acks,
    mode: ProduceMode,
    timeout: Option<Duration>,
    max_body: u64,
    producer: EventProducer,
    metrics: KafkaMetrics,
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
    /// The path parameter names a topic the route may not write.
    #[error("topic `{0}` is not one this route produces to")]
    TopicNotAllowed(String),
    /// The path parameter is not a valid Kafka topic name.
    #[error("`{0}` is not a valid Kafka topic name")]
    BadTopic(String),
    /// The key expression failed on this request.
    #[error("the record key could not be computed: {0}")]
    Key(String),
    /// The broker did not take the record (503, except a record too large for Kafka: 413).
    #[error(transparent)]
    Unavailable(#[from] ProduceError),
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
            ProduceFailure::TopicNotAllowed(_) => StatusCode::NOT_FOUND,
            ProduceFailure::BadTopic(_) | ProduceFailure::Key(_) => StatusCode::BAD_REQUEST,
            ProduceFailure::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The answer, in the gateway's JSON error shape.
    pub fn reply(&self, route: &str) -> ProduceReply {
        let status = self.status();
        let reason = self.to_string();
        let body = json!({
            "status": status.as_u16(),
            "error": status.canonical_reason().unwrap_or("Error"),
            "reason": reason,
            "route": route,
        });
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
    topic: Arc<str>,
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
    ) -> Result<Self, ProduceRouteError> {
        let bad_topic = |reason: String| ProduceRouteError::Topic {
            route: route.to_owned(),
            reason,
        };
        let topic = match settings.topic {
            ProduceTopic::Fixed { name } => {
                check_topic_name(name).map_err(bad_topic)?;
                TopicChoice::Fixed {
                    name: name.as_str().into(),
                    tally: metrics.produce_tally(name, route),
                }
            }
            ProduceTopic::Param { param, allow } => {
                let allowed = match allow {
                    None => None,
                    Some(topics) => Some(
                        topics
                            .iter()
                            .map(|name| {
                                check_topic_name(name).map_err(bad_topic)?;
                                let entry =
                                    (name.as_str().into(), metrics.produce_tally(name, route));
                                Ok((name.clone(), entry))
                            })
                            .collect::<Result<_, ProduceRouteError>>()?,
                    ),
                };
                TopicChoice::Param {
                    param: param.clone(),
                    allowed,
                }
            }
        };
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
            topic,
            key,
            value: settings.value,
            headers,
            acks: settings.acks,
            mode: settings.mode,
            timeout: settings.timeout,
            max_body: body_limit.unwrap_or(DEFAULT_MAX_BODY),
            producer: producer.clone(),
            metrics: metrics.clone(),
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
        let envelope;
        let value: &[u8] = match self.value {
            ValueFormat::Raw => input.body,
            ValueFormat::Envelope => {
                envelope = envelope_of(&input);
                &envelope
            }
        };
        let send = |key: Option<&[u8]>| {
            let record = EventRecord {
                topic: &topic,
                key,
                value,
                headers: self.record_headers(input.headers),
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

    fn topic_of(
        &self,
        input: &ProduceInput<'_>,
    ) -> Result<(Arc<str>, ProduceTally), ProduceFailure> {
        match &self.topic {
            TopicChoice::Fixed { name, tally } => Ok((Arc::clone(name), tally.clone())),
            TopicChoice::Param { param, allowed } => {
                let named = input
                    .params
                    .iter()
                    .find(|(name, _)| name == param)
                    .map_or("", |(_, value)| *value);
                match allowed {
                    Some(allowed) => allowed
                        .get(named)
                        .map(|(name, tally)| (Arc::clone(name), tally.clone()))
                        .ok_or_else(|| ProduceFailure::TopicNotAllowed(named.to_owned())),
                    None => {
                        check_topic_name(named)
                            .map_err(|_| ProduceFailure::BadTopic(named.to_owned()))?;
                        Ok((named.into(), self.metrics.produce_tally(named, &self.route)))
                    }
                }
            }
        }
    }

    fn record_headers(&self, request: &HeaderMap) -> RecordHeaders {
        if self.headers.is_empty() {
            return RecordHeaders::none();
        }
        let mut headers = RecordHeaders::with_capacity(self.headers.len());
        for name in &self.headers {
            for value in request.get_all(name) {
                headers = headers.push(name.as_str(), value.as_bytes());
            }
        }
        headers
    }
}

/// `{method, path, headers, query, body}`: headers and query as objects (sorted; repeated headers
/// joined with ", ", the first of repeated query parameters), the body as JSON when it is JSON,
/// as a string when it is UTF-8, else base64 with `"body_encoding": "base64"`.
fn envelope_of(input: &ProduceInput<'_>) -> Vec<u8> {
    let mut headers: BTreeMap<&str, String> = BTreeMap::new();
    for (name, value) in input.headers {
        let text = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&text);
            })
            .or_insert_with(|| text.into_owned());
    }
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    if let Some(raw) = input.query {
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            query
                .entry(name.into_owned())
                .or_insert_with(|| value.into_owned());
        }
    }
    let mut envelope = serde_json::Map::new();
    envelope.insert("method".into(), json!(input.method.as_str()));
    envelope.insert("path".into(), json!(input.path));
    envelope.insert("headers".into(), json!(headers));
    envelope.insert("query".into(), json!(query));
    let body = if input.body.is_empty() {
        serde_json::Value::Null
    } else if let Ok(parsed) = serde_json::from_slice::<serde_json::Value>(input.body) {
        parsed
    } else if let Ok(text) = std::str::from_utf8(input.body) {
        json!(text)
    } else {
        use base64::Engine;
        envelope.insert("body_encoding".into(), json!("base64"));
        json!(base64::engine::general_purpose::STANDARD.encode(input.body))
    };
    envelope.insert("body".into(), body);
    serde_json::Value::Object(envelope).to_string().into_bytes()
}

/// Kafka's topic name rule: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
fn check_topic_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!("`{name}` is not a valid Kafka topic name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn input<'a>(
        headers: &'a HeaderMap,
        body: &'a [u8],
        facts: &'a crate::admit::RequestFacts<'a>,
    ) -> ProduceInput<'a> {
        ProduceInput {
            method: &Method::POST,
            path: "/log",
            query: Some("ship=enterprise&ship=defiant&deck=7"),
            headers,
            params: &[],
            body,
            cel: CelInput::request(facts),
        }
    }

    #[test]
    fn the_envelope_carries_method_path_headers_query_and_json_body() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ship", HeaderValue::from_static("enterprise"));
        headers.append("accept", HeaderValue::from_static("text/plain"));
        headers.append("accept", HeaderValue::from_static("application/json"));
        let facts = crate::admit::RequestFacts::new(
            &Method::POST,
            "/log",
            &headers,
            "127.0.0.1:1".parse().unwrap(),
        );
        let envelope = envelope_of(&input(&headers, br#"{"severity":"red"}"#, &facts));
        let parsed: serde_json::Value = serde_json::from_slice(&envelope).unwrap();
        assert_eq!(
            parsed,
            json!({
                "method": "POST",
                "path": "/log",
                "headers": {"accept": "text/plain, application/json", "x-ship": "enterprise"},
                "query": {"deck": "7", "ship": "enterprise"},
                "body": {"severity": "red"},
            })
        );
    }

    #[test]
    fn a_binary_body_is_base64_in_the_envelope() {
        let headers = HeaderMap::new();
        let facts = crate::admit::RequestFacts::new(
            &Method::POST,
            "/log",
            &headers,
            "127.0.0.1:1".parse().unwrap(),
        );
        let envelope = envelope_of(&input(&headers, &[0xff, 0x00], &facts));
        let parsed: serde_json::Value = serde_json::from_slice(&envelope).unwrap();
        assert_eq!(parsed["body"], json!("/wA="));
        assert_eq!(parsed["body_encoding"], json!("base64"));
    }

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(check_topic_name("captains-log.v2_eu").is_ok());
        for bad in ["", ".", "..", "log/../x", "a b", &"x".repeat(250)] {
            assert!(check_topic_name(bad).is_err(), "{bad:?}");
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
}
