//! The request path, one short chain: match → admission → action (forward, respond or
//! produce) → metrics and access log. Everything it consults was compiled at load. The same
//! chain serves HTTP/1 ([`crate::server::http1`]) and HTTP/2 (hyper) requests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ACCESS_CONTROL_REQUEST_METHOD, CONTENT_TYPE, ORIGIN};
use http::{HeaderValue, Method, Response, StatusCode};
use meshwork_bundle::matcher::{normalize_path, MatchOutcome, Params, RequestTarget};
use meshwork_bundle::MethodMismatch;
use smallvec::SmallVec;

use crate::access_log::{timestamp, AccessLog, AccessRecord, DenialRecord};
use crate::admit::{Denial, PreflightResponse, RequestFacts, RouteAdmission};
use crate::forward::http1::raw_headers::NameKind;
use crate::forward::http1::request_encoder::{encode_head, BodyFraming};
use crate::forward::path_rewrite::strip_prefix;
use crate::forward::{
    forward, BodyError, ForwardFailureKind, ForwardPlan, MessageHeaders, RequestBody, ResponseBody,
    UpstreamRequest,
};
use crate::metrics::Metrics;
use crate::reload::StateCell;
use crate::state::{GatewayState, RouteAction};
use crate::stream::produce_route::ProduceFailure;
use crate::stream::ProduceInput;

use super::admission_response::{denial_response, preflight_response};
use super::body_buffer::{buffer_body, DEFAULT_BUFFER_LIMIT};
use super::client_request::ClientRequest;
use super::error_response::{json_error, method_not_allowed};
use super::forwarded_headers::{prepare_upstream_headers, ClientFacts};
use super::gateway_response::GatewayResponse;

/// What every connection of the process shares.
#[derive(Debug)]
pub struct Shared {
    /// The state being served.
    pub state: Arc<StateCell>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The access log.
    pub access_log: Arc<AccessLog>,
}

/// One client connection.
#[derive(Debug)]
pub struct ConnectionContext {
    /// Process-wide state.
    pub shared: Arc<Shared>,
    /// The gateway's index in the state.
    pub gateway: usize,
    /// The client's address.
    pub remote: SocketAddr,
    /// The client facts written into `X-Forwarded-*`.
    pub client: ClientFacts,
}

/// What happened to a request, for metrics and the access log.
#[derive(Debug, Default)]
struct Outcome<'g> {
    route: Option<(Arc<str>, u32)>,
    consumer: Option<&'g str>,
    denial: Option<Denial>,
    upstream: Option<Arc<str>>,
    upstream_time: Option<Duration>,
    error: Option<String>,
}

/// Serves one request: the response (its body may still be streaming from the upstream), with
/// the request counted and logged.
pub async fn handle(
    connection: &ConnectionContext,
    request: &ClientRequest,
    body: RequestBody<'_>,
) -> GatewayResponse {
    let shared = &connection.shared;
    let Some(state) = shared.state.load() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no bundle is loaded yet",
            None,
        )
        .into();
    };
    let Some(gateway) = state.gateways.get(connection.gateway) else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this listener's gateway is gone",
            None,
        )
        .into();
    };
    let started = shared.access_log.enabled().then(Instant::now);
    let mut outcome = Outcome::default();
    let response = route_request(gateway, connection, request, body, &mut outcome).await;
    let status = response.status.as_u16();
    let route_id = outcome
        .route
        .as_ref()
        .map_or(gateway.unmatched_metric_id, |(_, id)| *id);
    let denied_by = outcome.denial.as_ref().map_or("", |d| d.step().as_str());
    shared.metrics.requests.count(route_id, status, denied_by);
    if let Some(started) = started {
        let line = LogLine {
            method: request.method.as_str(),
            path: request.path(),
            status,
            started,
        };
        write_access_log(&shared.access_log, gateway, &line, &outcome);
    }
    response
}

/// The answer to a request head refused before it could be served (malformed, oversized,
/// ambiguous framing), counted and logged like any other request without a route.
pub fn refuse_head(
    connection: &ConnectionContext,
    status: StatusCode,
    reason: &str,
) -> GatewayResponse {
    let shared = &connection.shared;
    if let Some(state) = shared.state.load() {
        if let Some(gateway) = state.gateways.get(connection.gateway) {
            shared
                .metrics
                .requests
                .count(gateway.unmatched_metric_id, status.as_u16(), "");
            if shared.access_log.enabled() {
                let outcome = Outcome {
                    error: Some(reason.to_string()),
                    ..Outcome::default()
                };
                let line = LogLine {
                    method: "",
                    path: "",
                    status: status.as_u16(),
                    started: Instant::now(),
                };
                write_access_log(&shared.access_log, gateway, &line, &outcome);
            }
        }
    }
    json_error(status, reason, None).into()
}

async fn route_request<'g>(
    gateway: &'g GatewayState,
    connection: &ConnectionContext,
    request: &ClientRequest,
    body: RequestBody<'_>,
    outcome: &mut Outcome<'g>,
) -> GatewayResponse {
    let host = request.host();
    let Ok(path) = normalize_path(request.path()) else {
        return refuse(
            outcome,
            StatusCode::BAD_REQUEST,
            "the request path is malformed",
        );
    };
    let query = request.query().unwrap_or("");
    let target = RequestTarget {
        method: request.method.as_str(),
        host,
        path: &path,
        query,
        headers: &request.headers,
    };
    let (index, params) = match gateway.table.find(&target) {
        MatchOutcome::Matched { route, params } => (route, params),
        MatchOutcome::MethodMismatch { allow, .. } => {
            if let Some(answer) = preflight_of_other_method(gateway, connection, request, &target) {
                return answer.into_response(outcome);
            }
            if gateway.method_mismatch == MethodMismatch::MethodNotAllowed {
                outcome.error = Some("method not allowed".into());
                return method_not_allowed(&allow).into();
            }
            // As in the Gateway API: a route whose method differs does not match. The log says
            // which methods the path takes; the client sees the same 404 as for any other miss.
            let reason = format!(
                "no route matches this request (the path takes {})",
                allow.join(", ")
            );
            outcome.error = Some(reason);
            return json_error(StatusCode::NOT_FOUND, "no route matches this request", None).into();
        }
        MatchOutcome::NotFound => {
            return refuse(
                outcome,
                StatusCode::NOT_FOUND,
                "no route matches this request",
            );
        }
    };
    let route = &gateway.routes[index];
    outcome.route = Some((Arc::clone(&route.name), route.metric_id));
    let Some(admission) = gateway.admission.route(index) else {
        return refuse(
            outcome,
            StatusCode::INTERNAL_SERVER_ERROR,
            "the route has no admission",
        );
    };
    let captures: SmallVec<[(&str, &str); 4]> = params.iter().collect();
    let seen = RequestSeen {
        request,
        path: &path,
        host,
        params: &captures,
        remote: connection.remote,
    };
    let mut body = body.with_limit(admission.body_limit());
    let mut buffered: Option<Bytes> = None;
    let admitted = if admission.is_open() {
        // Nothing to check: no request facts are built.
        admission.admit_open()
    } else {
        if admission.needs_body() {
            let cap = admission.body_limit().unwrap_or(DEFAULT_BUFFER_LIMIT);
            match buffer_body(&mut body, cap).await {
                Ok(bytes) => buffered = Some(bytes),
                Err(error) => return body_refused(admission, outcome, &error),
            }
        }
        let facts = seen.facts(buffered.as_deref());
        if let Some(answer) = admission.preflight(&facts) {
            return match answer {
                Ok(preflight) => preflight_response(preflight).into(),
                Err(denial) => deny(outcome, denial),
            };
        }
        match admission.admit(&facts).await {
            Ok(admitted) => admitted,
            Err(denial) => return deny(outcome, denial),
        }
    };
    if !matches!(route.action, RouteAction::Produce(_)) {
        if let Some(bytes) = buffered.take() {
            body.set_buffered(bytes);
        }
    }
    outcome.consumer = admitted.consumer_name();
    let mut response: GatewayResponse = match &route.action {
        RouteAction::Respond(fixed) => {
            let mut response = Response::new(ResponseBody::full(fixed.body.clone()));
            *response.status_mut() = fixed.status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, fixed.content_type.clone());
            response.into()
        }
        RouteAction::Produce(produce) => {
            // A record needs the whole body; one already buffered for a condition is reused.
            let bytes = match buffered.take() {
                Some(bytes) => Ok(bytes),
                None => buffer_body(&mut body, produce.max_body()).await,
            };
            let reply = match bytes {
                Err(BodyError::TooLarge { limit }) => {
                    ProduceFailure::BodyTooLarge(limit).reply(&route.name)
                }
                Err(other) => ProduceFailure::BodyUnreadable(other.to_string()).reply(&route.name),
                Ok(bytes) => {
                    let submitted = {
                        let facts = seen.facts(Some(&bytes));
                        produce.submit(ProduceInput {
                            method: &request.method,
                            path: &path,
                            query: request.query(),
                            headers: request.header_map(),
                            params: &captures,
                            body: &bytes,
                            cel: admitted.cel_input(&facts),
                        })
                    };
                    match submitted {
                        Ok(pending) => pending.reply(&route.name).await,
                        Err(failure) => failure.reply(&route.name),
                    }
                }
            };
            outcome.error = reply.error;
            produce_response(reply.status, reply.body, reply.retry_after).into()
        }
        RouteAction::Forward(plan) => {
            let Some(service) = plan.choose_service() else {
                return refuse(
                    outcome,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the route forwards nowhere",
                );
            };
            let key = service.balancer.hash_key().and_then(|hash| {
                let facts = seen.facts(None);
                hash.hash(admitted.cel_input(&facts))
            });
            let upstream_target = upstream_target(plan, request, &path, query, &params);
            let edited;
            let headers = if admitted.changes_request_headers() {
                let mut headers = request.headers.clone();
                admitted.apply_request_headers(&mut headers);
                edited = headers;
                &edited
            } else {
                &request.headers
            };
            let forwarding =
                prepare_upstream_headers(headers, &connection.client, request.authority());
            let framing = body_framing(&body, headers);
            let mut head = Vec::with_capacity(512);
            let target = upstream_target
                .as_deref()
                .unwrap_or_else(|| request.target.as_str());
            encode_head(
                &request.method,
                target,
                headers,
                framing,
                &forwarding,
                &mut head,
            );
            let upstream = UpstreamRequest {
                head,
                body,
                framing,
                idempotent: plan.repeatable(&request.method),
                head_request: request.method == Method::HEAD,
            };
            match forward(service, plan.attempt_timeout(service), key, upstream).await {
                Ok(forwarded) => {
                    outcome.upstream = Some(forwarded.endpoint);
                    outcome.upstream_time = Some(forwarded.upstream_time);
                    GatewayResponse {
                        status: forwarded.status,
                        headers: forwarded.headers,
                        body: forwarded.body,
                    }
                }
                Err(failure) if failure.kind == ForwardFailureKind::BodyTooLarge => {
                    let limit = admission.body_limit().unwrap_or(0);
                    return body_refused(admission, outcome, &BodyError::TooLarge { limit });
                }
                Err(failure) => {
                    let reason = failure.reason();
                    outcome.upstream = failure.endpoint.clone();
                    outcome.error = Some(reason.clone());
                    json_error(failure.status(), &reason, Some(&route.name)).into()
                }
            }
        }
    };
    admitted.apply_response_headers(&mut response.headers);
    response
}

/// What admission and request CEL see of a request, gathered once it matched a route.
struct RequestSeen<'a> {
    request: &'a ClientRequest,
    path: &'a str,
    host: &'a str,
    params: &'a [(&'a str, &'a str)],
    remote: SocketAddr,
}

impl<'a> RequestSeen<'a> {
    /// The request facts (reading the headers where the request holds them).
    fn facts(&self, body: Option<&'a [u8]>) -> RequestFacts<'a> {
        RequestFacts::new(
            &self.request.method,
            self.path,
            self.request.header_view(),
            self.remote,
        )
        .with_query(self.request.query())
        .with_host(Some(self.host))
        .with_params(self.params)
        .with_body(body)
    }
}

/// How the body goes upstream: its declared (or buffered) length when known, else chunked.
fn body_framing(body: &RequestBody<'_>, headers: &MessageHeaders) -> BodyFraming {
    let declared = body.is_buffered() || headers.has_kind(NameKind::ContentLength);
    match body.remaining_length() {
        Some(length) if declared => BodyFraming::Sized(length),
        _ if body.is_end() => BodyFraming::Empty,
        _ => BodyFraming::Chunked,
    }
}

/// The 413 (or 400) for a body that could not be read.
fn body_refused(
    admission: &RouteAdmission,
    outcome: &mut Outcome<'_>,
    error: &BodyError,
) -> GatewayResponse {
    match error {
        BodyError::TooLarge { limit } => match admission.body_too_large() {
            Some(denial) => deny(outcome, denial),
            None => refuse(
                outcome,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than the {limit} bytes meshd reads for a condition"),
            ),
        },
        other => refuse(outcome, StatusCode::BAD_REQUEST, &other.to_string()),
    }
}

/// The answer to a CORS preflight for a route that does not match `OPTIONS` itself.
struct OtherMethodPreflight {
    route: (Arc<str>, u32),
    answer: Result<PreflightResponse, Denial>,
}

impl OtherMethodPreflight {
    fn into_response(self, outcome: &mut Outcome<'_>) -> GatewayResponse {
        outcome.route = Some(self.route);
        match self.answer {
            Ok(preflight) => preflight_response(preflight).into(),
            Err(denial) => deny(outcome, denial),
        }
    }
}

/// A CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered by
/// the route that would serve the method it asks about, when that route has a CORS policy.
fn preflight_of_other_method(
    gateway: &GatewayState,
    connection: &ConnectionContext,
    request: &ClientRequest,
    target: &RequestTarget<'_>,
) -> Option<OtherMethodPreflight> {
    if request.method != Method::OPTIONS || request.headers.get(ORIGIN.as_str()).is_none() {
        return None;
    }
    let requested = request
        .headers
        .get(ACCESS_CONTROL_REQUEST_METHOD.as_str())?;
    let requested = std::str::from_utf8(requested).ok()?;
    let asked = RequestTarget {
        method: requested,
        ..*target
    };
    let MatchOutcome::Matched {
        route: index,
        params,
    } = gateway.table.find(&asked)
    else {
        return None;
    };
    let route = gateway.routes.get(index)?;
    let admission = gateway.admission.route(index)?;
    let params: SmallVec<[(&str, &str); 4]> = params.iter().collect();
    let seen = RequestSeen {
        request,
        path: target.path,
        host: target.host,
        params: &params,
        remote: connection.remote,
    };
    Some(OtherMethodPreflight {
        route: (Arc::clone(&route.name), route.metric_id),
        answer: admission.preflight(&seen.facts(None))?,
    })
}

/// A produce route's JSON answer, with `Retry-After` on 503.
fn produce_response(
    status: StatusCode,
    body: bytes::Bytes,
    retry_after: Option<u64>,
) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(seconds) = retry_after {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Records a denial and answers it.
fn deny(outcome: &mut Outcome<'_>, denial: Denial) -> GatewayResponse {
    let response = denial_response(&denial);
    outcome.denial = Some(denial);
    response.into()
}

/// Records the error and answers it.
fn refuse(outcome: &mut Outcome<'_>, status: StatusCode, reason: &str) -> GatewayResponse {
    outcome.error = Some(reason.to_string());
    json_error(status, reason, None).into()
}

/// The upstream request target, or `None` to keep the client's as it is (origin form, already
/// normalized, no rewriting).
fn upstream_target(
    plan: &ForwardPlan,
    request: &ClientRequest,
    path: &str,
    query: &str,
    params: &Params<'_>,
) -> Option<String> {
    let rewritten: Option<String> = match (&plan.rewrite, &plan.strip_prefix) {
        (Some(rewrite), _) => Some(rewrite.render(params)),
        (None, Some(prefix)) => strip_prefix(path, prefix).map(str::to_string),
        (None, None) => None,
    };
    if rewritten.is_none() && path == request.path() {
        return None;
    }
    let mut target = rewritten.unwrap_or_else(|| path.to_string());
    if !query.is_empty() {
        target.push('?');
        target.push_str(query);
    }
    Some(target)
}

/// The request line of an access log record.
struct LogLine<'a> {
    method: &'a str,
    path: &'a str,
    status: u16,
    started: Instant,
}

fn write_access_log(
    log: &AccessLog,
    gateway: &GatewayState,
    line: &LogLine<'_>,
    outcome: &Outcome<'_>,
) {
    let time = timestamp();
    let millis = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let denial_source = outcome.denial.as_ref().map_or_else(String::new, |denial| {
        let source = denial.source();
        format!("{}:{}:{}", source.file, source.line, source.column)
    });
    log.write(&AccessRecord {
        time: &time,
        gateway: &gateway.name,
        route: outcome.route.as_ref().map(|(name, _)| &**name),
        consumer: outcome
            .consumer
            .or_else(|| outcome.denial.as_ref().and_then(Denial::consumer)),
        method: line.method,
        path: line.path,
        status: line.status,
        duration_ms: millis(line.started.elapsed()),
        upstream: outcome.upstream.as_deref(),
        upstream_ms: outcome.upstream_time.map(millis),
        denial: outcome.denial.as_ref().map(|denial| DenialRecord {
            step: denial.step().as_str(),
            source: &denial_source,
            reason: &denial.reason,
        }),
        error: outcome.error.as_deref(),
    });
}
