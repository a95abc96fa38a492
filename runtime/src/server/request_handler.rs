//! The request path, one short chain: framing check → match → admission → action (forward,
//! respond or produce) → metrics and access log. Everything it consults was compiled at load.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{
    HeaderValue, ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN,
    TRANSFER_ENCODING,
};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{HeaderMap, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use meshwork_bundle::matcher::{normalize_path, HeaderLookup, MatchOutcome, Params, RequestTarget};
use smallvec::SmallVec;

use crate::access_log::{timestamp, AccessLog, AccessRecord, DenialRecord};
use crate::admit::{Denial, PreflightResponse, RequestFacts};
use crate::forward::path_rewrite::strip_prefix;
use crate::forward::request_view::RequestView;
use crate::forward::{forward, ForwardPlan, ResponseBody};
use crate::metrics::Metrics;
use crate::reload::StateCell;
use crate::state::{GatewayState, RouteAction};
use crate::stream::produce_route::read_body;
use crate::stream::ProduceInput;

use super::admission_response::{denial_response, preflight_response};
use super::error_response::{json_error, method_not_allowed};
use super::forwarded_headers::{prepare_upstream_headers, ClientFacts};
use super::framing_guard::FramingNotes;

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
    /// What the framing guard noted about each HTTP/1 request head, in order.
    pub framing: Arc<FramingNotes>,
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

/// Serves one request.
pub async fn handle(
    request: Request<Incoming>,
    connection: Arc<ConnectionContext>,
) -> Result<Response<ResponseBody>, Infallible> {
    let shared = &connection.shared;
    let Some(state) = shared.state.load() else {
        return Ok(json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no bundle is loaded yet",
            None,
        ));
    };
    let Some(gateway) = state.gateways.get(connection.gateway) else {
        return Ok(json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this listener's gateway is gone",
            None,
        ));
    };
    let (head, body) = request.into_parts();
    let logged = shared
        .access_log
        .enabled()
        .then(|| (head.method.clone(), head.uri.clone(), Instant::now()));
    let mut outcome = Outcome::default();
    let response = route_request(gateway, &connection, head, body, &mut outcome).await;
    let status = response.status().as_u16();
    let route_id = outcome
        .route
        .as_ref()
        .map_or(gateway.unmatched_metric_id, |(_, id)| *id);
    let denied_by = outcome.denial.as_ref().map_or("", |d| d.step().as_str());
    shared.metrics.requests.count(route_id, status, denied_by);
    if let Some((method, uri, started)) = logged {
        write_access_log(
            &shared.access_log,
            gateway,
            &method,
            &uri,
            status,
            started,
            &outcome,
        );
    }
    Ok(response)
}

async fn route_request<'g>(
    gateway: &'g GatewayState,
    connection: &ConnectionContext,
    mut head: Parts,
    body: Incoming,
    outcome: &mut Outcome<'g>,
) -> Response<ResponseBody> {
    let note = connection.framing.next_head();
    if note.oversized {
        return refuse(
            outcome,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "the request head is larger than 64 KiB",
        );
    }
    if note.ambiguous || has_ambiguous_framing(&head) {
        return refuse(
            outcome,
            StatusCode::BAD_REQUEST,
            "both Content-Length and Transfer-Encoding are present",
        );
    }
    let authority = authority_of(&head);
    let host = authority
        .as_ref()
        .and_then(|a| a.to_str().ok())
        .map_or("", host_without_port);
    let Ok(path) = normalize_path(head.uri.path()) else {
        return refuse(
            outcome,
            StatusCode::BAD_REQUEST,
            "the request path is malformed",
        );
    };
    let query = head.uri.query().unwrap_or("");
    let lookup = HeaderMapLookup(&head.headers);
    let target = RequestTarget {
        method: head.method.as_str(),
        host,
        path: &path,
        query,
        headers: &lookup,
    };
    let (index, params) = match gateway.table.find(&target) {
        MatchOutcome::Matched { route, params } => (route, params),
        MatchOutcome::MethodNotAllowed { allow } => {
            if let Some(answer) = preflight_of_other_method(gateway, connection, &head, &target) {
                return answer.into_response(outcome);
            }
            outcome.error = Some("method not allowed".into());
            return method_not_allowed(&allow);
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
    let admitted = {
        let params: SmallVec<[(&str, &str); 4]> = params.iter().collect();
        let facts = RequestFacts::new(&head.method, &path, &head.headers, connection.remote)
            .with_query(head.uri.query())
            .with_host(Some(host))
            .with_params(&params);
        if let Some(answer) = admission.preflight(&facts) {
            return match answer {
                Ok(preflight) => preflight_response(preflight),
                Err(denial) => deny(outcome, denial),
            };
        }
        match admission.admit(&facts).await {
            Ok(admitted) => admitted,
            Err(denial) => return deny(outcome, denial),
        }
    };
    outcome.consumer = admitted.consumer_name();
    let mut response = match &route.action {
        RouteAction::Respond(fixed) => {
            let mut response = Response::new(ResponseBody::full(fixed.body.clone()));
            *response.status_mut() = fixed.status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, fixed.content_type.clone());
            response
        }
        RouteAction::Produce(produce) => {
            let params: SmallVec<[(&str, &str); 4]> = params.iter().collect();
            let reply = match read_body(body, &head.headers, produce.max_body()).await {
                Err(failure) => failure.reply(&route.name),
                Ok(bytes) => {
                    let submitted = {
                        let facts = RequestFacts::new(
                            &head.method,
                            &path,
                            &head.headers,
                            connection.remote,
                        )
                        .with_query(head.uri.query())
                        .with_host(Some(host))
                        .with_params(&params)
                        .with_body(Some(&bytes));
                        produce.submit(ProduceInput {
                            method: &head.method,
                            path: &path,
                            query: head.uri.query(),
                            headers: &head.headers,
                            params: &params,
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
            produce_response(reply.status, reply.body, reply.retry_after)
        }
        RouteAction::Forward(plan) => {
            let Some(service) = plan.choose_service() else {
                return refuse(
                    outcome,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the route forwards nowhere",
                );
            };
            let key = service.balancer.hash_key().and_then(|_| {
                service.hash_of(&RequestView {
                    method: &head.method,
                    path: &path,
                    host,
                    query,
                    headers: &head.headers,
                    remote_addr: connection.remote,
                })
            });
            let upstream_uri = upstream_uri(plan, &head.uri, &path, query, &params);
            drop(params);
            drop(path);
            if let Some(uri) = upstream_uri {
                head.uri = uri;
            }
            head.version = Version::HTTP_11;
            admitted.apply_request_headers(&mut head.headers);
            let forwarding =
                prepare_upstream_headers(&mut head.headers, &connection.client, authority);
            let timeout = plan.attempt_timeout(service);
            match forward(service, timeout, key, head, &forwarding, body).await {
                Ok(forwarded) => {
                    outcome.upstream = Some(forwarded.endpoint);
                    outcome.upstream_time = Some(forwarded.upstream_time);
                    forwarded.response
                }
                Err(failure) => {
                    let reason = failure.reason();
                    outcome.upstream = failure.endpoint.clone();
                    outcome.error = Some(reason.clone());
                    json_error(failure.status(), &reason, Some(&route.name))
                }
            }
        }
    };
    admitted.apply_response_headers(response.headers_mut());
    response
}

/// The answer to a CORS preflight for a route that does not match `OPTIONS` itself.
struct OtherMethodPreflight {
    route: (Arc<str>, u32),
    answer: Result<PreflightResponse, Denial>,
}

impl OtherMethodPreflight {
    fn into_response(self, outcome: &mut Outcome<'_>) -> Response<ResponseBody> {
        outcome.route = Some(self.route);
        match self.answer {
            Ok(preflight) => preflight_response(preflight),
            Err(denial) => deny(outcome, denial),
        }
    }
}

/// A CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered by
/// the route that would serve the method it asks about, when that route has a CORS policy.
fn preflight_of_other_method(
    gateway: &GatewayState,
    connection: &ConnectionContext,
    head: &Parts,
    target: &RequestTarget<'_>,
) -> Option<OtherMethodPreflight> {
    if head.method != http::Method::OPTIONS || !head.headers.contains_key(ORIGIN) {
        return None;
    }
    let requested = head
        .headers
        .get(ACCESS_CONTROL_REQUEST_METHOD)?
        .to_str()
        .ok()?;
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
    let facts = RequestFacts::new(&head.method, target.path, &head.headers, connection.remote)
        .with_query(head.uri.query())
        .with_host(Some(target.host))
        .with_params(&params);
    Some(OtherMethodPreflight {
        route: (Arc::clone(&route.name), route.metric_id),
        answer: admission.preflight(&facts)?,
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
fn deny(outcome: &mut Outcome<'_>, denial: Denial) -> Response<ResponseBody> {
    let response = denial_response(&denial);
    outcome.denial = Some(denial);
    response
}

/// Records the error and answers it.
fn refuse(outcome: &mut Outcome<'_>, status: StatusCode, reason: &str) -> Response<ResponseBody> {
    outcome.error = Some(reason.to_string());
    json_error(status, reason, None)
}

/// An HTTP/1 request with both `Content-Length` and `Transfer-Encoding` could be framed two ways
/// by two servers (request smuggling); it is refused, never forwarded.
fn has_ambiguous_framing(head: &Parts) -> bool {
    head.version <= Version::HTTP_11
        && head.headers.contains_key(TRANSFER_ENCODING)
        && head.headers.contains_key(CONTENT_LENGTH)
}

/// The host the client addressed: the `Host` header, or the URI authority (HTTP/2, absolute form).
fn authority_of(head: &Parts) -> Option<HeaderValue> {
    head.headers.get(HOST).cloned().or_else(|| {
        head.uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    })
}

/// `host[:port]` or `[v6]:port` without the port.
fn host_without_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.bytes().position(|b| b == b':') {
        Some(colon) => &authority[..colon],
        None => authority,
    }
}

/// The upstream request target, or `None` to keep the client's as it is (origin form, already
/// normalized, no rewriting).
fn upstream_uri(
    plan: &ForwardPlan,
    uri: &Uri,
    path: &str,
    query: &str,
    params: &Params<'_>,
) -> Option<Uri> {
    let rewritten: Option<String> = match (&plan.rewrite, &plan.strip_prefix) {
        (Some(rewrite), _) => Some(rewrite.render(params)),
        (None, Some(prefix)) => strip_prefix(path, prefix).map(str::to_string),
        (None, None) => None,
    };
    let unchanged = rewritten.is_none() && path == uri.path() && uri.authority().is_none();
    if unchanged {
        return None;
    }
    let mut target = rewritten.unwrap_or_else(|| path.to_string());
    if !query.is_empty() {
        target.push('?');
        target.push_str(query);
    }
    PathAndQuery::try_from(target).ok().map(Uri::from)
}

/// Header lookups for the matcher.
struct HeaderMapLookup<'a>(&'a HeaderMap);

impl HeaderLookup for HeaderMapLookup<'_> {
    fn has_value(&self, name: &str, value: &str) -> bool {
        self.0
            .get_all(name)
            .iter()
            .any(|v| v.as_bytes() == value.as_bytes())
    }
}

fn write_access_log(
    log: &AccessLog,
    gateway: &GatewayState,
    method: &http::Method,
    uri: &Uri,
    status: u16,
    started: Instant,
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
        method: method.as_str(),
        path: uri.path(),
        status,
        duration_ms: millis(started.elapsed()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_dropped_from_hosts_including_ipv6() {
        assert_eq!(host_without_port("api.test:8080"), "api.test");
        assert_eq!(host_without_port("api.test"), "api.test");
        assert_eq!(host_without_port("[::1]:8080"), "::1");
    }
}
