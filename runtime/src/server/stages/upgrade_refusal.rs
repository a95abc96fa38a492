//! The gateway's answer to an upgrade it refuses before forwarding (see
//! [`crate::forward::upgrade::upgrade_admission`]): the JSON error naming the route and, for the
//! 403 of a `websocket off` route, `x-meshwork-denied-by` naming the route and where it was
//! written, as every denial does.

use http::StatusCode;

use crate::admit::denial::header_value_lossy;
use crate::admit::{HeaderSink, DENIED_BY};
use crate::server::error_response::json_error;
use crate::server::gateway_response::GatewayResponse;
use crate::state::RouteState;

use super::outcome::{Outcome, UpgradeRefusal};

/// The refusal, recorded in `outcome`: the route's 403 and 503 as a denial (the step and the
/// route's place), a malformed upgrade's 400 as an error.
pub fn upgrade_refused(
    status: StatusCode,
    reason: &str,
    route: &RouteState,
    outcome: &mut Outcome<'_>,
) -> GatewayResponse {
    let step = match status {
        StatusCode::FORBIDDEN => Some("websocket"),
        StatusCode::SERVICE_UNAVAILABLE => Some("websocket_max"),
        _ => None,
    };
    match step {
        Some(step) => {
            outcome.upgrade_refusal = Some(UpgradeRefusal {
                step,
                source: route.source.clone(),
                reason: reason.to_string(),
            });
        }
        None => outcome.error = Some(reason.to_string()),
    }
    let mut response: GatewayResponse = json_error(status, reason, Some(&route.name)).into();
    if status == StatusCode::FORBIDDEN {
        // `source` is `file:line:column`; the header names `file:line`, as admission's do.
        let source = route
            .source
            .rsplit_once(':')
            .map_or(&*route.source, |(at, _)| at);
        let text = format!("route={}; step=websocket; source={source}", route.name);
        response
            .headers
            .set_header(DENIED_BY.clone(), header_value_lossy(&text));
    }
    response
}
