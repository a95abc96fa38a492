//! A produce route's record, as meshd builds it (`meshwork-policy`'s record plan): the topic
//! (fixed, or named by a path parameter within its allow list), the key from request CEL, the
//! value (the body, or the JSON envelope), checked against the topic's JSON Schema as meshd
//! checks it (422 with the pointer, 400 for a value that is not JSON). The broker is assumed to
//! take it: a sync route then answers 200, an async one 202.

use http::HeaderMap;
use meshwork_bundle::{CompiledTopicSchema, ProduceMode, Route, RouteAction, Topic, ValueFormat};
use meshwork_policy::admit::cel::RequestExpression;
use meshwork_policy::admit::{Admitted, RequestFacts};
use meshwork_policy::stream::record_plan::{envelope, topic_for, RecordRefusal, DEFAULT_MAX_BODY};
use meshwork_policy::stream::topic_schemas::{check_value, SchemaRejection};

use super::gateway_case::SentRequest;
use super::outcome::{Outcome, ProducedRecord};

fn refuse(outcome: &mut Outcome, refusal: &RecordRefusal) {
    outcome.status = Some(refusal.status());
    outcome.routing_error = Some(refusal.to_string());
}

/// Builds the record of `route` for the admitted request.
pub fn produce(
    route: &Route,
    topics: &[Topic],
    admitted: &Admitted<'_>,
    facts: &RequestFacts<'_>,
    request: &SentRequest,
    body_limit: Option<u64>,
    outcome: &mut Outcome,
) {
    let RouteAction::Produce {
        topic,
        key,
        value,
        mode,
        ..
    } = &route.action
    else {
        return;
    };
    let max_body = body_limit.unwrap_or(DEFAULT_MAX_BODY);
    if request.body.len() as u64 > max_body {
        refuse(outcome, &RecordRefusal::BodyTooLarge(max_body));
        return;
    }
    let topic = match topic_for(topic, facts.params) {
        Ok(topic) => topic.to_string(),
        Err(refusal) => return refuse(outcome, &refusal),
    };
    let facts = facts.with_body(Some(&request.body));
    let key = match key {
        None => None,
        Some(source) => {
            let expression = match RequestExpression::compile(source) {
                Ok(expression) => expression,
                Err(error) => return refuse(outcome, &RecordRefusal::Key(error.message)),
            };
            match expression.evaluate_bytes(admitted.cel_input(&facts)) {
                Ok(key) => key,
                Err(error) => return refuse(outcome, &RecordRefusal::Key(error.to_string())),
            }
        }
    };
    let value = match value {
        ValueFormat::Raw => request.body.clone(),
        ValueFormat::Envelope => envelope(
            &request.method,
            facts.path,
            facts.query,
            &request.headers as &HeaderMap,
            &request.body,
        ),
    };
    let schema = topics
        .iter()
        .find(|t| t.name == topic)
        .and_then(|t| t.schema.as_ref());
    if let Some(schema) = schema {
        // meshc checked the schema compiles; a hand-edited bundle's that does not is skipped.
        if let Ok(compiled) = CompiledTopicSchema::compile(&schema.document) {
            if let Err(rejection) = check_value(&compiled, &value) {
                outcome.status = Some(match rejection {
                    SchemaRejection::NotJson(_) => 400,
                    SchemaRejection::Violation(_) => 422,
                });
                outcome.routing_error =
                    Some(format!("topic `{topic}` refuses the record: {rejection}"));
                return;
            }
        }
    }
    outcome.status = Some(match mode {
        ProduceMode::Sync => 200,
        ProduceMode::Async => 202,
    });
    outcome.produced = Some(ProducedRecord { topic, key, value });
}
