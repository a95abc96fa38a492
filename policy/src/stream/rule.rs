//! A bundle `stream` compiled for the runtime: its CEL compiled once, its deliver service
//! resolved, and the per-record decision ([`StreamRule::judge`]) free of any Kafka I/O.

use meshwork_bundle::{Deliver, Service, Stream};

use super::event_cel::{
    EventCelError, EventError, EventEvaluator, EventExpression, EventFields, RecordView,
};

/// Why a stream cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// One of its CEL expressions does not compile.
    #[error("stream `{stream}`: {error}")]
    Cel {
        /// The stream.
        stream: String,
        /// The compile error.
        error: EventCelError,
    },
    /// `deliver` names a service the bundle does not have.
    #[error("stream `{stream}` delivers to unknown service `{service}`")]
    UnknownService {
        /// The stream.
        stream: String,
        /// The service.
        service: String,
    },
    /// `exactly_once` on a stream that also delivers over HTTP, which no transaction covers.
    #[error("stream `{stream}`: exactly_once needs a topic output only; an HTTP delivery cannot be rolled back")]
    ExactlyOnceWithDeliver {
        /// The stream.
        stream: String,
    },
    /// `deliver` names a service with no endpoints.
    #[error("stream `{stream}` delivers to service `{service}`, which has no endpoints")]
    NoEndpoints {
        /// The stream.
        stream: String,
        /// The service.
        service: String,
    },
}

/// Where matching records are republished.
#[derive(Debug)]
pub struct RuleTarget {
    /// The topic.
    pub topic: String,
    /// Reshapes the key, or keeps it.
    pub key: Option<EventExpression>,
    /// Reshapes the value, or keeps it.
    pub value: Option<EventExpression>,
}

/// Kafka → HTTP delivery with its service resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverTarget {
    /// The bundle's settings.
    pub settings: Deliver,
    /// The service's `host:port` endpoints.
    pub endpoints: Vec<String>,
    /// The service's per-attempt timeout in milliseconds.
    pub timeout_ms: u64,
}

/// A compiled stream.
#[derive(Debug)]
pub struct StreamRule {
    /// The stream's name.
    pub name: String,
    /// The topic it reads.
    pub source_topic: String,
    /// Its consumer group.
    pub group: String,
    /// Its filter, if any.
    pub condition: Option<EventExpression>,
    /// Where matches are republished, if anywhere.
    pub target: Option<RuleTarget>,
    /// Where matches are delivered over HTTP, if anywhere.
    pub deliver: Option<DeliverTarget>,
    /// Where failed records go, if anywhere.
    pub dead_letter: Option<String>,
    /// Outputs and source offsets commit in one Kafka transaction (topic → topic only).
    pub exactly_once: bool,
    fields: EventFields,
}

/// What becomes of a reshaped key or value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reshaped {
    /// The record's own bytes.
    Keep,
    /// New bytes (`None`: no key / a null value).
    Replace(Option<Vec<u8>>),
}

/// The decision for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The condition is false: nothing to write.
    Filtered,
    /// The record goes on, with its key and value as reshaped.
    Pass {
        /// The output key.
        key: Reshaped,
        /// The output value.
        value: Reshaped,
    },
    /// An expression failed: the record goes to the dead letter.
    Failed(EventError),
}

impl StreamRule {
    /// Compiles `stream`, resolving its deliver service among `services`.
    pub fn compile(stream: &Stream, services: &[Service]) -> Result<Self, RuleError> {
        let compile = |source: &str| {
            EventExpression::compile(source).map_err(|error| RuleError::Cel {
                stream: stream.name.clone(),
                error,
            })
        };
        let condition = stream.when.as_deref().map(compile).transpose()?;
        let target = match &stream.to {
            None => None,
            Some(sink) => Some(RuleTarget {
                topic: sink.topic.clone(),
                key: sink.key.as_deref().map(compile).transpose()?,
                value: sink.value.as_deref().map(compile).transpose()?,
            }),
        };
        let deliver = match &stream.deliver {
            None => None,
            Some(settings) => Some(resolve_deliver(&stream.name, settings, services)?),
        };
        let exactly_once = stream.to.as_ref().is_some_and(|sink| sink.exactly_once);
        if exactly_once && deliver.is_some() {
            return Err(RuleError::ExactlyOnceWithDeliver {
                stream: stream.name.clone(),
            });
        }
        let mut fields = EventFields::default();
        let expressions = condition.iter().chain(
            target
                .iter()
                .flat_map(|target| target.key.iter().chain(target.value.iter())),
        );
        for expression in expressions {
            fields = fields.union(expression.fields());
        }
        Ok(StreamRule {
            name: stream.name.clone(),
            source_topic: stream.from.topic.clone(),
            group: stream.from.group.clone(),
            condition,
            target,
            deliver,
            dead_letter: stream.dead_letter.clone(),
            exactly_once,
            fields,
        })
    }

    /// How many outputs a passing record has (republish and/or deliver).
    pub fn outputs(&self) -> u8 {
        u8::from(self.target.is_some()) + u8::from(self.deliver.is_some())
    }

    /// Decides what happens to one record.
    pub fn judge(&self, evaluator: &EventEvaluator, record: &RecordView<'_>) -> Verdict {
        let needs_scope = self.condition.is_some()
            || self
                .target
                .as_ref()
                .is_some_and(|target| target.key.is_some() || target.value.is_some());
        if !needs_scope {
            return Verdict::Pass {
                key: Reshaped::Keep,
                value: Reshaped::Keep,
            };
        }
        let scope = evaluator.scope(record, self.fields);
        if let Some(condition) = &self.condition {
            match scope.condition(condition) {
                Ok(true) => {}
                Ok(false) => return Verdict::Filtered,
                Err(error) => return Verdict::Failed(error),
            }
        }
        let reshape = |expression: Option<&EventExpression>| match expression {
            None => Ok(Reshaped::Keep),
            Some(expression) => scope.bytes(expression).map(Reshaped::Replace),
        };
        let target = self.target.as_ref();
        let key = match reshape(target.and_then(|t| t.key.as_ref())) {
            Ok(key) => key,
            Err(error) => return Verdict::Failed(error),
        };
        match reshape(target.and_then(|t| t.value.as_ref())) {
            Ok(value) => Verdict::Pass { key, value },
            Err(error) => Verdict::Failed(error),
        }
    }
}

fn resolve_deliver(
    stream: &str,
    settings: &Deliver,
    services: &[Service],
) -> Result<DeliverTarget, RuleError> {
    let service = services
        .iter()
        .find(|service| service.name == settings.service)
        .ok_or_else(|| RuleError::UnknownService {
            stream: stream.to_owned(),
            service: settings.service.clone(),
        })?;
    if service.endpoints.is_empty() {
        return Err(RuleError::NoEndpoints {
            stream: stream.to_owned(),
            service: service.name.clone(),
        });
    }
    Ok(DeliverTarget {
        settings: settings.clone(),
        endpoints: service.endpoints.clone(),
        timeout_ms: service.timeout_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshwork_bundle::{SourceLocation, StreamSink, StreamSource};

    fn stream(when: Option<&str>, key: Option<&str>) -> Stream {
        Stream {
            name: "red_alerts".into(),
            from: StreamSource {
                topic: "captains-log".into(),
                group: "alerts".into(),
            },
            when: when.map(str::to_owned),
            to: Some(StreamSink {
                topic: "red-alerts".into(),
                key: key.map(str::to_owned),
                value: None,
                exactly_once: false,
            }),
            deliver: None,
            dead_letter: Some("captains-log-dlq".into()),
            source: SourceLocation {
                file: "streams.mesh".into(),
                line: 1,
                column: 1,
            },
        }
    }

    fn view(value: &[u8]) -> RecordView<'_> {
        RecordView {
            topic: "captains-log",
            partition: 0,
            offset: 7,
            key: Some(b"k"),
            value: Some(value),
            headers: None,
            timestamp_ms: None,
        }
    }

    #[test]
    fn matching_records_pass_others_are_filtered_broken_ones_fail() {
        let rule =
            StreamRule::compile(&stream(Some(r#"event.value.severity == "red""#), None), &[])
                .unwrap();
        let evaluator = EventEvaluator::default();
        assert_eq!(
            rule.judge(&evaluator, &view(br#"{"severity":"red"}"#)),
            Verdict::Pass {
                key: Reshaped::Keep,
                value: Reshaped::Keep
            }
        );
        assert_eq!(
            rule.judge(&evaluator, &view(br#"{"severity":"blue"}"#)),
            Verdict::Filtered
        );
        let Verdict::Failed(error) = rule.judge(&evaluator, &view(b"garbage")) else {
            panic!("garbage passed");
        };
        assert_eq!(error.reason(), "invalid_json");
    }

    #[test]
    fn a_key_expression_replaces_the_key() {
        let rule = StreamRule::compile(&stream(None, Some("event.value.ship")), &[]).unwrap();
        let verdict = rule.judge(&EventEvaluator::default(), &view(br#"{"ship":"defiant"}"#));
        assert_eq!(
            verdict,
            Verdict::Pass {
                key: Reshaped::Replace(Some(b"defiant".to_vec())),
                value: Reshaped::Keep
            }
        );
    }

    #[test]
    fn a_broken_expression_refuses_the_stream() {
        let error = StreamRule::compile(&stream(Some("event.value =="), None), &[]).unwrap_err();
        assert!(matches!(error, RuleError::Cel { .. }), "{error}");
    }

    #[test]
    fn deliver_to_an_unknown_service_refuses_the_stream() {
        let mut definition = stream(None, None);
        definition.deliver = Some(Deliver {
            service: "nowhere".into(),
            path: "/events".into(),
            concurrency: 4,
            retry: 3,
            backoff_min_ms: 10,
            backoff_max_ms: 100,
        });
        let error = StreamRule::compile(&definition, &[]).unwrap_err();
        assert!(matches!(error, RuleError::UnknownService { .. }), "{error}");
    }
}
