//! The gateway's chain of stages: match the route → admit the caller → inject the route's faults
//! → act (respond, produce or forward). The record stage runs after it, in [`super::request_handler::handle`].

use std::borrow::Cow;
use std::sync::Arc;

use http::StatusCode;
use meshwork_bundle::matcher::Params;
use smallvec::SmallVec;

use crate::admit::Admitted;
use crate::forward::path_rewrite::strip_prefix;
use crate::forward::upgrade::{forward_upgrade, start_upgrade, UpgradeSite, UpgradeStart};
use crate::forward::{
    forward, BodyError, ForwardFailure, ForwardFailureKind, ForwardPlan, RequestBody, ServiceState,
    TimeBudget, UpstreamRequest,
};
use crate::state::{GatewayState, RouteAction};
use crate::trace::RequestTrace;

use super::client_request::ClientRequest;
use super::error_response::json_error;
use super::forwarded_headers::{host_forwarding, prepare_upstream_headers};
use super::gateway_response::GatewayResponse;
use super::request_handler::ConnectionContext;
use super::stages::admission::{
    admit_open, admitted, body_refused, preflight, read_body_for_conditions, AdmittedRequest,
    RequestSeen,
};
use super::stages::fault::{decide_faults, fault_aborted};
use super::stages::forward::{forward_failed, forwarded, upstream_request, UpstreamCall};
use super::stages::mirror::{mirror_body, send_copy};
use super::stages::outcome::Outcome;
use super::stages::produce::produce;
use super::stages::respond::respond;
use super::stages::route_match::{match_route, RequestLine, RouteMatch};
use super::stages::serve::serve as serve_topic;
use super::stages::upgrade_refusal::upgrade_refused;
use super::stages::Answered;

/// Serves one request on one of `gateway`'s listeners.
pub async fn serve<'g>(
    gateway: &'g GatewayState,
    connection: &ConnectionContext,
    request: &'g ClientRequest,
    body: RequestBody<'_>,
    outcome: &mut Outcome<'g>,
) -> GatewayResponse {
    // match
    let line = match RequestLine::read(gateway, request, outcome) {
        Ok(line) => line,
        Err(answered) => return *answered,
    };
    let matched = match match_route(gateway, connection, request, &line, outcome) {
        Ok(matched) => matched,
        Err(answered) => return *answered,
    };
    let captures: SmallVec<[(&str, &str); 4]> = matched.params.iter().collect();
    let seen = RequestSeen {
        request,
        path: &line.path,
        host: line.host,
        params: &captures,
        remote: connection.remote,
    };
    // admit
    let admission = matched.admission;
    let mut body = body.with_limit(admission.body_limit());
    let AdmittedRequest {
        admitted,
        mut buffered,
    } = match admit_open(admission) {
        Some(open) => open,
        None => {
            if let Some(trace) = &mut outcome.trace {
                trace.admission.0 = trace.now();
            }
            let mut buffered = None;
            if admission.needs_body() {
                match read_body_for_conditions(admission, &mut body, outcome).await {
                    Ok(bytes) => buffered = Some(bytes),
                    Err(answered) => return *answered,
                }
            }
            let facts = seen.facts(buffered.as_deref());
            if let Some(answered) = preflight(admission, &facts, outcome) {
                return *answered;
            }
            let result = admission.admit(&facts).await;
            if let Some(trace) = &mut outcome.trace {
                trace.admission.1 = trace.now();
            }
            match admitted(result, buffered, outcome) {
                Ok(admitted) => admitted,
                Err(answered) => return *answered,
            }
        }
    };
    // faults (after admission: a refused request is never faulted)
    let route = matched.route;
    if let Some(faults) = &route.faults {
        let decision = decide_faults(faults, &seen, &admitted, outcome);
        if let Some(delay) = decision.delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(status) = decision.abort {
            let mut response = fault_aborted(status, &route.name, outcome);
            admitted.apply_response_headers(&mut response.headers);
            return response;
        }
    }
    // act
    let mut response = match &route.action {
        RouteAction::Respond(fixed) => respond(fixed),
        RouteAction::Serve(route_serve) => {
            serve_topic(route_serve, &route.name, &seen, &admitted, outcome).await
        }
        RouteAction::Produce(route_produce) => {
            let buffered = buffered.take();
            produce(
                route_produce,
                &route.name,
                &seen,
                &admitted,
                &mut body,
                buffered,
                outcome,
            )
            .await
        }
        RouteAction::Forward(plan) => {
            if let Some(bytes) = buffered.take() {
                body.set_buffered(bytes);
            }
            // upgrade: refused (403, 400, 503) or given its place before anything is forwarded
            let site = UpgradeSite {
                proxy: &gateway.name,
                route: &route.name,
            };
            let metrics = &connection.shared.metrics.upgrades;
            let (version, headers) = (request.version, &request.headers);
            let opening = match start_upgrade(
                &plan.upgrades,
                metrics,
                site,
                version,
                headers,
                body.is_end(),
            ) {
                UpgradeStart::NotAsked => None,
                UpgradeStart::Open(opening) => Some(opening),
                UpgradeStart::Refused(status, reason) => {
                    return upgrade_refused(status, &reason, route, outcome);
                }
            };
            // mirror: the copy's body is read before the primary streams it
            let copy_body = match &plan.mirror {
                Some(_) if opening.is_some() => None,
                Some(mirror) => match mirror_body(mirror, &mut body).await {
                    Ok(copy) => copy,
                    Err(error) => return body_refused(matched.admission, outcome, &error),
                },
                None => None,
            };
            let routed = Routed {
                matched: &matched,
                line: &line,
                seen: &seen,
                admitted: &admitted,
            };
            let step = match forward_step(plan, connection, &routed, body, outcome) {
                Ok(step) => step,
                Err(answered) => return *answered,
            };
            if let (Some(mirror), Some(copy)) = (&plan.mirror, copy_body) {
                let target = upstream_target(plan, request, &line, &matched.params);
                let target = target.as_deref().unwrap_or_else(|| request.target.as_str());
                let trace = outcome.trace.as_ref().map(RequestTrace::own_context);
                send_copy(mirror, connection, request, &admitted, target, copy, trace);
            }
            let forwarding = match opening {
                None => forward(step.service, step.budget, step.key, step.request).await,
                Some(opening) => {
                    forward_upgrade(step.service, step.budget, step.key, step.request, opening)
                        .await
                }
            };
            if let Some(trace) = &mut outcome.trace {
                trace.end_hop(
                    forwarding
                        .as_ref()
                        .map_or_else(|f| f.attempts, |f| f.attempts),
                );
            }
            match forwarding {
                Ok(done) => forwarded(done, outcome),
                Err(failure) => match forward_failure(&failure, &routed, outcome) {
                    Ok(response) => response,
                    // Refused before anything came back: no response header rules apply.
                    Err(answered) => return *answered,
                },
            }
        }
    };
    admitted.apply_response_headers(&mut response.headers);
    response
}

/// What the forward action reads of a matched, admitted request.
struct Routed<'s, 'g, 'p> {
    matched: &'s RouteMatch<'g, 'p>,
    line: &'s RequestLine<'p>,
    seen: &'s RequestSeen<'s>,
    admitted: &'s Admitted<'g>,
}

/// A request ready to leave for one of the route's services.
struct ForwardStep<'s, 'c> {
    service: &'s Arc<ServiceState>,
    budget: TimeBudget,
    key: Option<u64>,
    request: UpstreamRequest<'c>,
}

/// Prepares the forward to one of the route's services: the upstream target (rewritten or with
/// the prefix stripped), admission's header edits, the forwarding headers, the balancing key.
#[inline(always)]
fn forward_step<'s, 'c>(
    plan: &'s ForwardPlan,
    connection: &ConnectionContext,
    routed: &Routed<'_, '_, '_>,
    body: RequestBody<'c>,
    outcome: &mut Outcome<'_>,
) -> Result<ForwardStep<'s, 'c>, Answered> {
    let Some(service) = plan.choose_service() else {
        return Err(Box::new(outcome.refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the route forwards nowhere",
        )));
    };
    let request = routed.seen.request;
    let key = service.balancer.hash_key().and_then(|hash| {
        let facts = routed.seen.facts(None);
        hash.hash(routed.admitted.cel_input(&facts))
    });
    let rewritten = upstream_target(plan, request, routed.line, &routed.matched.params);
    let edited;
    let headers = if routed.admitted.changes_request_headers() {
        let mut headers = request.headers.clone();
        routed.admitted.apply_request_headers(&mut headers);
        edited = headers;
        &edited
    } else {
        &request.headers
    };
    // The host routed and admitted by is the one sent.
    let host = host_forwarding(request, headers, &service.name);
    let mut forwarding = prepare_upstream_headers(headers, &connection.client, host);
    if let Some(trace) = &mut outcome.trace {
        forwarding.trace = Some(trace.begin_call(&service.name));
    }
    let call = UpstreamCall {
        method: &request.method,
        target: rewritten
            .as_deref()
            .unwrap_or_else(|| request.target.as_str()),
        headers,
        forwarding,
        body,
    };
    let mut upstream = upstream_request(call);
    // A route marked `idempotent` lets the service's retries repeat its POSTs too.
    upstream.idempotent = plan.repeatable(&request.method);
    Ok(ForwardStep {
        service,
        budget: plan.budget(service),
        key,
        request: upstream,
    })
}

/// The answer to a failed forward: the JSON error naming the route, or (`Err`) the route's 413
/// when the client's body grew past its limit.
fn forward_failure(
    failure: &ForwardFailure,
    routed: &Routed<'_, '_, '_>,
    outcome: &mut Outcome<'_>,
) -> Result<GatewayResponse, Answered> {
    if failure.kind == ForwardFailureKind::BodyTooLarge {
        let admission = routed.matched.admission;
        let limit = admission.body_limit().unwrap_or(0);
        return Err(Box::new(body_refused(
            admission,
            outcome,
            &BodyError::TooLarge { limit },
        )));
    }
    let reason = forward_failed(failure, outcome);
    Ok(json_error(failure.status(), &reason, Some(&routed.matched.route.name)).into())
}

/// The upstream request target, or `None` to keep the client's as it is (origin form, already
/// normalized, no rewriting).
fn upstream_target(
    plan: &ForwardPlan,
    request: &ClientRequest,
    line: &RequestLine<'_>,
    params: &Params<'_>,
) -> Option<String> {
    let path: &str = &line.path;
    let rewritten: Option<String> = match (&plan.rewrite, &plan.strip_prefix) {
        (Some(rewrite), _) => Some(rewrite.render(params)),
        (None, Some(prefix)) => strip_prefix(path, prefix).map(str::to_string),
        (None, None) => None,
    };
    // A borrowed path is the client's own, unchanged by normalization: no comparison needed.
    if rewritten.is_none() && (matches!(line.path, Cow::Borrowed(_)) || path == request.path()) {
        return None;
    }
    let mut target = rewritten.unwrap_or_else(|| path.to_string());
    if !line.query.is_empty() {
        target.push('?');
        target.push_str(line.query);
    }
    Some(target)
}
