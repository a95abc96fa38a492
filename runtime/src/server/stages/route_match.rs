//! The match stage of the gateway chain: normalize the path once, then find the route with the
//! shared matcher. A path that matches only for other methods is a 404, as in the Gateway API (a
//! 405 with `Allow` when the gateway says `method_mismatch 405`), unless the request is a CORS
//! preflight for one of them, which that route's CORS policy answers.

use std::borrow::Cow;
use std::sync::Arc;

use http::header::{ACCESS_CONTROL_REQUEST_METHOD, ORIGIN};
use http::{Method, StatusCode};
use meshwork_bundle::matcher::{MatchOutcome, Params, RequestTarget};
use meshwork_bundle::MethodMismatch;
use smallvec::SmallVec;

use crate::admit::RouteAdmission;
use crate::server::admission_response::preflight_response;
use crate::server::client_request::ClientRequest;
use crate::server::error_response::method_not_allowed;
use crate::server::request_handler::ConnectionContext;
use crate::state::{GatewayState, RouteState};

use super::admission::RequestSeen;
use super::outcome::Outcome;
use super::Answered;

/// The request line as routing reads it: the path normalized once (the path that is matched is
/// the one forwarded), the host without port and the raw query.
#[derive(Debug)]
pub struct RequestLine<'r> {
    /// The normalized path.
    pub path: Cow<'r, str>,
    /// The host without port, `""` when the client named none.
    pub host: &'r str,
    /// The query without `?`, `""` when none.
    pub query: &'r str,
}

impl<'r> RequestLine<'r> {
    /// Reads the request line, the path normalized under the gateway's path policy (the route
    /// table's: the one its route paths went through); a path the policy refuses is a 400.
    #[inline(always)]
    pub fn read(
        gateway: &GatewayState,
        request: &'r ClientRequest,
        outcome: &mut Outcome<'_>,
    ) -> Result<Self, Answered> {
        let path = match gateway.table.normalize(request.path()) {
            Ok(path) => path,
            Err(error) => {
                return Err(Box::new(
                    outcome.refuse(StatusCode::BAD_REQUEST, &error.to_string()),
                ))
            }
        };
        Ok(RequestLine {
            path,
            host: request.host(),
            query: request.query().unwrap_or(""),
        })
    }
}

/// A request that matched one of the gateway's routes (`'g`, the state) with captures borrowed
/// from its path (`'p`).
#[derive(Debug)]
pub struct RouteMatch<'g, 'p> {
    /// The route.
    pub route: &'g RouteState,
    /// Its admission.
    pub admission: &'g RouteAdmission,
    /// The path template's captures.
    pub params: Params<'p>,
}

/// Finds the route for `request`; no route, a wrong method or a preflight is the response.
#[inline(always)]
pub fn match_route<'g: 'p, 'p>(
    gateway: &'g GatewayState,
    connection: &ConnectionContext,
    request: &'p ClientRequest,
    line: &'p RequestLine<'p>,
    outcome: &mut Outcome<'_>,
) -> Result<RouteMatch<'g, 'p>, Answered> {
    let target = RequestTarget {
        method: request.method.as_str(),
        host: line.host,
        path: &line.path,
        query: line.query,
        headers: &request.headers,
    };
    let (index, params) = match gateway.table.find(&target) {
        MatchOutcome::Matched { route, params } => (route, params),
        MatchOutcome::MethodMismatch { allow, .. } => {
            if let Some(answer) = preflight_of_other_method(gateway, connection, request, &target) {
                outcome.route = Some(answer.route);
                return Err(Box::new(match answer.answer {
                    Ok(preflight) => preflight_response(preflight).into(),
                    Err(denial) => outcome.deny(denial),
                }));
            }
            if gateway.method_mismatch == MethodMismatch::MethodNotAllowed {
                outcome.error = Some("method not allowed".into());
                return Err(Box::new(method_not_allowed(&allow).into()));
            }
            // As in the Gateway API: a route whose method differs does not match. The log says
            // which methods the path takes; the client sees the same 404 as for any other miss.
            let answer = outcome.refuse(StatusCode::NOT_FOUND, "no route matches this request");
            outcome.error = Some(format!(
                "no route matches this request (the path takes {})",
                allow.join(", ")
            ));
            return Err(Box::new(answer));
        }
        MatchOutcome::NotFound => {
            return Err(Box::new(
                outcome.refuse(StatusCode::NOT_FOUND, "no route matches this request"),
            ));
        }
    };
    let route = &gateway.routes[index];
    outcome.route = Some((Arc::clone(&route.name), route.metric_id));
    let Some(admission) = gateway.admission.route(index) else {
        return Err(Box::new(outcome.refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the route has no admission",
        )));
    };
    Ok(RouteMatch {
        route,
        admission,
        params,
    })
}

/// The answer to a CORS preflight for a route that does not match `OPTIONS` itself.
struct OtherMethodPreflight {
    route: (Arc<str>, u32),
    answer: Result<crate::admit::PreflightResponse, crate::admit::Denial>,
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
