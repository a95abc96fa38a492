//! A produce route's record, as meshd builds it (`meshwork-policy`'s record plan): the topic
//! (fixed, or named by a path parameter within its allow list), the key from request CEL, the
//! value (the body, or the JSON envelope). The broker is assumed to take it: a sync route then
//! answers 200, an async one 202.

use http::HeaderMap;
use meshwork_bundle::{ProduceMode, Route, RouteAction, ValueFormat};
use meshwork_policy::admit::cel::RequestExpression;
use meshwork_policy::admit::{Admitted, RequestFacts};
use meshwork_policy::stream::record_plan::{envelope, topic_for, RecordRefusal, DEFAULT_MAX_BODY};

use super::gateway_case::SentRequest;
use super::outcome::{Outcome, ProducedRecord};

fn refuse(outcome: &mut Outcome, refusal: &RecordRefusal) {
    outcome.status = Some(refusal.status());
    outcome.routing_error = Some(refusal.to_string());
}

/// Builds the record of `route` for the admitted request.
pub fn produce(
    route: &Route,
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
    outcome.status = Some(match mode {
        ProduceMode::Sync => 200,
        ProduceMode::Async => 202,
    });
    outcome.produced = Some(ProducedRecord { topic, key, value });
}
