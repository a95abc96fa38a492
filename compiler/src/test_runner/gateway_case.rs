//! An HTTP request through a gateway, decided as meshd decides it: the path normalized and the
//! route found by the shared matcher, admission by the route's [`RouteAdmission`] (the code
//! meshd runs, from `meshwork-policy`), then the route's action. Nothing is sent anywhere: a
//! forward is reported with its services and the headers the upstream would get.

use std::future::Future;
use std::net::SocketAddr;

use http::header::{ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, ORIGIN};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use meshwork_bundle::matcher::{HeaderPairs, MatchOutcome, RequestTarget, RouteTable};
use meshwork_bundle::{AdmissionStep, Gateway, MethodMismatch, Route, RouteAction, Topic};
use meshwork_policy::admit::{Admitted, Denial, RequestFacts, RouteAdmission, BODY_BUFFER_LIMIT};

use super::case_plan::CasePlan;
use super::credentials::{credential_for, CredentialPlace, TestKeys};
use super::lazy_admission::LazyAdmission;
use super::outcome::{Outcome, Refusal};
use super::produce_case::produce;
use super::traffic_case::{route_faults, route_mirror};
use crate::syntax::test_ast::FaultMode;

/// A gateway with its compiled route table and admission, fresh for each test.
pub struct GatewayRun<'b> {
    pub gateway: &'b Gateway,
    /// The bundle's topics (a produce checks the record against its topic's schema).
    pub topics: &'b [Topic],
    pub table: &'b RouteTable,
    pub admission: LazyAdmission<'b>,
    /// Whether the route's faults fire (`faults forced`) or not.
    pub faults: FaultMode,
}

/// The request as the test sends it, after credentials are added.
#[derive(Debug, Clone)]
pub struct SentRequest {
    pub method: Method,
    pub host: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub client: SocketAddr,
}

impl SentRequest {
    /// Builds the request of `plan`; a header the HTTP types cannot carry is an error.
    pub fn from_plan(plan: &CasePlan<'_>) -> Result<Self, String> {
        let request = &plan.request;
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("`{}` is not an HTTP method", request.method))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a header name"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of `{name}` cannot be sent in a header"))?;
            headers.append(name, value);
        }
        if !request.host.is_empty() && !headers.contains_key(http::header::HOST) {
            let authority = match request.port {
                Some(port) => format!("{}:{port}", request.host),
                None => request.host.clone(),
            };
            if let Ok(value) = HeaderValue::from_str(&authority) {
                headers.insert(http::header::HOST, value);
            }
        }
        let body = plan.body.clone().unwrap_or_default().into_bytes();
        if !body.is_empty() && !headers.contains_key(CONTENT_LENGTH) {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        Ok(SentRequest {
            method,
            host: request.host.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            headers,
            body,
            client: plan.client,
        })
    }

    /// Adds a credential where the route reads it.
    pub fn add_credential(&mut self, place: CredentialPlace) -> Result<(), String> {
        match place {
            CredentialPlace::Header(name, value) => {
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
                let value = HeaderValue::from_str(&value).map_err(|e| e.to_string())?;
                self.headers.insert(name, value);
            }
            CredentialPlace::Query(name, value) => {
                if !self.query.is_empty() {
                    self.query.push('&');
                }
                self.query.push_str(&format!("{name}={value}"));
            }
        }
        Ok(())
    }
}

/// What the shared matcher answers, with the captures copied out of the request.
enum Routing {
    Matched {
        index: usize,
        params: Vec<(String, String)>,
    },
    /// Routes of the path take other methods (these).
    MethodMismatch(Vec<String>),
    NotFound,
}

/// What the shared matcher answers for `request` (with `method` in place of its own).
fn find(table: &RouteTable, request: &SentRequest, path: &str, method: &str) -> Routing {
    let pairs: Vec<(&str, &str)> = request
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
        .collect();
    let headers = HeaderPairs(&pairs);
    let target = RequestTarget {
        method,
        host: &request.host,
        path,
        query: &request.query,
        headers: &headers,
    };
    let routing = match table.find(&target) {
        MatchOutcome::Matched { route, params } => Routing::Matched {
            index: route,
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        },
        MatchOutcome::MethodMismatch { allow, .. } => {
            Routing::MethodMismatch(allow.into_iter().map(str::to_string).collect())
        }
        MatchOutcome::NotFound => Routing::NotFound,
    };
    routing
}

/// The route `as CONSUMER` must authenticate on: the one the request reaches without
/// credentials (a credential header almost never changes which route matches).
pub fn route_for_credentials<'b>(run: &GatewayRun<'b>, request: &SentRequest) -> Option<&'b Route> {
    let path = run.table.normalize(&request.path).ok()?;
    let Routing::Matched { index, .. } = find(run.table, request, &path, request.method.as_str())
    else {
        return None;
    };
    run.gateway.routes.get(index)
}

/// Adds `as CONSUMER`'s credential for the route the request reaches.
pub fn add_credentials(
    run: &GatewayRun<'_>,
    plan: &CasePlan<'_>,
    keys: &TestKeys,
    request: &mut SentRequest,
) -> Result<(), String> {
    let Some(credential) = &plan.credential else {
        return Ok(());
    };
    let Some(route) = route_for_credentials(run, request) else {
        return Err(format!(
            "`as {}`: the request reaches no route, so there is no auth to send a credential for",
            credential.consumer
        ));
    };
    let Some(method) = route.admission.iter().find_map(|step| match step {
        AdmissionStep::Auth { method, .. } => Some(method),
        _ => None,
    }) else {
        return Err(format!(
            "`as {}`: route `{}` does not authenticate, so there is no credential to send",
            credential.consumer, route.name
        ));
    };
    let place = credential_for(
        keys,
        run.gateway,
        method,
        &credential.consumer,
        &credential.claims,
        plan.at,
    )?;
    request.add_credential(place)
}

/// Polls admission once: without a shared store (tests never have one) it is ready at once.
// `Denial` is meshd's own refusal, passed on as admission returns it.
#[allow(clippy::result_large_err)]
fn admit_now<'r>(
    admission: &'r RouteAdmission,
    facts: &RequestFacts<'_>,
) -> Result<Admitted<'r>, Denial> {
    let mut future = std::pin::pin!(admission.admit(facts));
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => unreachable!("admission without a shared store never waits"),
    }
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The admission steps a refusal ran: every step before it and itself.
fn steps_until(route: &Route, denial: &Denial) -> Vec<usize> {
    let refusing = route
        .admission
        .iter()
        .position(|step| step_source(step) == Some(denial.source()));
    match refusing {
        Some(last) => (0..=last)
            .filter(|i| {
                !matches!(
                    route.admission[*i],
                    AdmissionStep::Header { .. } | AdmissionStep::Cors { .. }
                ) || *i == last
            })
            .collect(),
        None => Vec::new(),
    }
}

fn step_source(step: &AdmissionStep) -> Option<&meshwork_bundle::SourceLocation> {
    match step {
        AdmissionStep::Auth { source, .. }
        | AdmissionStep::Access { source, .. }
        | AdmissionStep::RateLimit { source, .. }
        | AdmissionStep::Condition { source, .. }
        | AdmissionStep::Cors { source, .. }
        | AdmissionStep::BodyLimit { source, .. }
        | AdmissionStep::Fault { source, .. }
        | AdmissionStep::Header { source, .. } => Some(source),
    }
}

fn refused(outcome: &mut Outcome, route: &Route, denial: &Denial) {
    outcome.status = Some(denial.status.as_u16());
    outcome.refusal = Some(Refusal {
        step: denial.step().as_str().to_string(),
        reason: denial.reason.to_string(),
        source: Some(denial.source().clone()),
    });
    outcome.response_headers = header_pairs(&denial.response_headers());
    outcome.body = Some(denial.json_body().into_bytes());
    outcome.steps_reached = steps_until(route, denial);
}

/// Decides one request.
pub fn decide_request(run: &GatewayRun<'_>, request: &SentRequest) -> Outcome {
    let mut outcome = Outcome {
        gateway: Some(run.gateway.name.clone()),
        ..Outcome::default()
    };
    // The gateway's own path policy (merge_slashes, escaped_slashes), as meshd applies it.
    let Ok(path) = run.table.normalize(&request.path) else {
        outcome.status = Some(400);
        outcome.routing_error = Some("the request path is malformed".to_string());
        return outcome;
    };
    let (index, params) = match find(run.table, request, &path, request.method.as_str()) {
        Routing::Matched { index, params } => (index, params),
        Routing::MethodMismatch(allow) => {
            if let Some(answer) = preflight_of_other_method(run, request, &path, &mut outcome) {
                return answer;
            }
            if run.gateway.method_mismatch == MethodMismatch::MethodNotAllowed {
                outcome.status = Some(405);
                outcome.routing_error = Some(format!("this path accepts {}", allow.join(", ")));
                outcome.response_headers = vec![("allow".to_string(), allow.join(", "))];
            } else {
                // As in the Gateway API (and meshd): a route of another method does not match.
                outcome.status = Some(404);
                outcome.routing_error = Some(format!(
                    "no route matches this request (the path takes {})",
                    allow.join(", ")
                ));
            }
            return outcome;
        }
        Routing::NotFound => {
            outcome.status = Some(404);
            outcome.routing_error = Some("no route matches this request".to_string());
            return outcome;
        }
    };
    let route = &run.gateway.routes[index];
    outcome.route = Some((route.name.clone(), route.source.clone()));
    let Some(admission) = run.admission.route(index) else {
        outcome.status = Some(500);
        outcome.routing_error = Some("the route has no admission".to_string());
        return outcome;
    };
    let captures: Vec<(&str, &str)> = params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let body = (!request.body.is_empty()).then_some(request.body.as_slice());
    let facts = RequestFacts::new(&request.method, &path, &request.headers, request.client)
        .with_query(Some(request.query.as_str()).filter(|q| !q.is_empty()))
        .with_host(Some(request.host.as_str()))
        .with_params(&captures)
        .with_body(body);
    let admitted = if admission.is_open() {
        admission.admit_open()
    } else {
        if admission.needs_body() {
            let cap = admission.body_limit().unwrap_or(BODY_BUFFER_LIMIT);
            if request.body.len() as u64 > cap {
                match admission.body_too_large() {
                    Some(denial) => refused(&mut outcome, route, &denial),
                    None => {
                        outcome.status = Some(413);
                        outcome.routing_error = Some(format!(
                            "the body is larger than the {cap} bytes meshd reads for a condition"
                        ));
                    }
                }
                return outcome;
            }
        }
        if let Some(answer) = admission.preflight(&facts) {
            match answer {
                Ok(preflight) => {
                    outcome.status = Some(preflight.status.as_u16());
                    outcome.allowed = true;
                    outcome.response_headers = header_pairs(&preflight.headers);
                    outcome.steps_reached = cors_step(route);
                }
                Err(denial) => refused(&mut outcome, route, &denial),
            }
            return outcome;
        }
        match admit_now(admission, &facts) {
            Ok(admitted) => admitted,
            Err(denial) => {
                refused(&mut outcome, route, &denial);
                return outcome;
            }
        }
    };
    outcome.allowed = true;
    outcome.steps_reached = (0..route.admission.len())
        .filter(|i| !matches!(route.admission[*i], AdmissionStep::Header { .. }))
        .collect();
    if let Some(limit) = admission.body_limit() {
        if request.body.len() as u64 > limit {
            // A body without a declared length is cut off while it streams (the same 413).
            if let Some(denial) = admission.body_too_large() {
                refused(&mut outcome, route, &denial);
                return outcome;
            }
        }
    }
    let mut response_headers = HeaderMap::new();
    if route_faults(run.faults, route, admitted.cel_input(&facts), &mut outcome) {
        // Aborted in place of the action; response header rules and CORS still apply.
        admitted.apply_response_headers(&mut response_headers);
        outcome
            .response_headers
            .extend(header_pairs(&response_headers));
        return outcome;
    }
    match &route.action {
        RouteAction::Respond {
            status,
            body,
            content_type,
        } => {
            outcome.status = Some(*status);
            outcome.body = Some(body.clone().into_bytes());
            response_headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_str(content_type)
                    .unwrap_or(HeaderValue::from_static("text/plain")),
            );
        }
        RouteAction::Forward { targets, .. } => {
            outcome.forward = Some(
                targets
                    .iter()
                    .map(|t| (t.service.clone(), t.weight))
                    .collect(),
            );
            let mut upstream = request.headers.clone();
            admitted.apply_request_headers(&mut upstream);
            outcome.upstream_headers = header_pairs(&upstream);
            route_mirror(route, request.body.len(), &mut outcome);
        }
        RouteAction::Produce { .. } => {
            produce(
                route,
                run.topics,
                &admitted,
                &facts,
                request,
                admission.body_limit(),
                &mut outcome,
            );
        }
    }
    admitted.apply_response_headers(&mut response_headers);
    outcome
        .response_headers
        .extend(header_pairs(&response_headers));
    outcome
}

fn cors_step(route: &Route) -> Vec<usize> {
    route
        .admission
        .iter()
        .position(|s| matches!(s, AdmissionStep::Cors { .. }))
        .into_iter()
        .collect()
}

/// An `OPTIONS` preflight for a route of another method is answered by that route's CORS policy,
/// as meshd's request handler does.
fn preflight_of_other_method(
    run: &GatewayRun<'_>,
    request: &SentRequest,
    path: &str,
    outcome: &mut Outcome,
) -> Option<Outcome> {
    if request.method != Method::OPTIONS || !request.headers.contains_key(ORIGIN) {
        return None;
    }
    let asked = request
        .headers
        .get(ACCESS_CONTROL_REQUEST_METHOD)?
        .to_str()
        .ok()?;
    let Routing::Matched { index, params } = find(run.table, request, path, asked) else {
        return None;
    };
    let route = run.gateway.routes.get(index)?;
    let admission = run.admission.route(index)?;
    let captures: Vec<(&str, &str)> = params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let facts = RequestFacts::new(&request.method, path, &request.headers, request.client)
        .with_query(Some(request.query.as_str()).filter(|q| !q.is_empty()))
        .with_host(Some(request.host.as_str()))
        .with_params(&captures);
    let answer = admission.preflight(&facts)?;
    let mut result = outcome.clone();
    result.route = Some((route.name.clone(), route.source.clone()));
    match answer {
        Ok(preflight) => {
            result.status = Some(preflight.status.as_u16());
            result.allowed = true;
            result.response_headers = header_pairs(&preflight.headers);
            result.steps_reached = cors_step(route);
        }
        Err(denial) => refused(&mut result, route, &denial),
    }
    Some(result)
}
