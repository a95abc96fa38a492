//! The produce action: the request becomes a Kafka record, answered once the broker has it
//! (`200 {topic, partition, offset}`) or queued (`202`), or refused (`413`, `503` with
//! `Retry-After`).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use http::{Response, StatusCode};

use crate::admit::Admitted;
use crate::forward::{BodyError, RequestBody, ResponseBody};
use crate::server::body_buffer::buffer_body;
use crate::server::gateway_response::GatewayResponse;
use crate::stream::produce::produce_route::ProduceFailure;
use crate::stream::produce::produce_route::RecordTrace;
use crate::stream::{ProduceInput, ProduceRoute};
use crate::trace::SpanKind;

use super::admission::RequestSeen;
use super::outcome::Outcome;

/// Produces the request to the route's topic; `buffered` is the body when admission already
/// read it whole.
pub async fn produce(
    produce: &ProduceRoute,
    route_name: &str,
    seen: &RequestSeen<'_>,
    admitted: &Admitted<'_>,
    body: &mut RequestBody<'_>,
    buffered: Option<Bytes>,
    outcome: &mut Outcome<'_>,
) -> GatewayResponse {
    // A record needs the whole body; one already buffered for a condition is reused.
    let bytes = match buffered {
        Some(bytes) => Ok(bytes),
        None => buffer_body(body, produce.max_body()).await,
    };
    let reply = match bytes {
        Err(BodyError::TooLarge { limit }) => ProduceFailure::BodyTooLarge(limit).reply(route_name),
        Err(stalled @ BodyError::Stalled(_)) => {
            ProduceFailure::BodyStalled(stalled.to_string()).reply(route_name)
        }
        Err(other) => ProduceFailure::BodyUnreadable(other.to_string()).reply(route_name),
        Ok(bytes) => {
            let trace = outcome.trace.as_mut().map(|trace| {
                let span = trace.begin_hop(None, SpanKind::Producer);
                let keeps_state = trace.keeps_state;
                (span, keeps_state)
            });
            let request = seen.request;
            let record_trace = trace.map(|(span, keeps_state)| RecordTrace {
                traceparent: span.traceparent(),
                tracestate: keeps_state
                    .then(|| request.headers.get("tracestate"))
                    .flatten(),
            });
            let submitted = {
                let facts = seen.facts(Some(&bytes));
                produce.submit(ProduceInput {
                    method: &request.method,
                    path: seen.path,
                    query: request.query(),
                    headers: request.header_map(),
                    params: seen.params,
                    body: &bytes,
                    cel: admitted.cel_input(&facts),
                    trace: record_trace,
                })
            };
            match submitted {
                Ok(pending) => {
                    if let Some(trace) = outcome.trace.as_mut().filter(|t| t.recording()) {
                        if let Some(hop) = &mut trace.hop {
                            hop.target = Some(Arc::clone(&pending.topic));
                        }
                    }
                    let reply = pending.reply(route_name).await;
                    if let Some(trace) = &mut outcome.trace {
                        trace.end_hop(1);
                    }
                    reply
                }
                Err(failure) => failure.reply(route_name),
            }
        }
    };
    outcome.error = reply.error;
    produce_response(reply.status, reply.body, reply.retry_after)
}

/// A produce route's JSON answer, with `Retry-After` on 503.
fn produce_response(status: StatusCode, body: Bytes, retry_after: Option<u64>) -> GatewayResponse {
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(seconds) = retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response.into()
}
