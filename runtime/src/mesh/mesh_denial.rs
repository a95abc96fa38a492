//! The answer to a call the mesh refuses: 403 with `x-meshwork-denied-by` naming the deciding rule
//! (or the default) and where it was written, and a JSON body saying the same.

use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use meshwork_bundle::mesh_policy::{denied_by, DecidedBy, MeshDecision};
use serde::Serialize;

use crate::admit::denial::header_value_lossy;
use crate::admit::DENIED_BY;
use crate::forward::ResponseBody;
use crate::server::gateway_response::GatewayResponse;

use super::mesh_state::Caller;

#[derive(Serialize)]
struct MeshDenialBody<'a> {
    status: u16,
    error: &'a str,
    reason: String,
    denied_by: &'a str,
}

/// The 403 for `decision`, with the text of `x-meshwork-denied-by` (also logged).
pub fn mesh_denial(
    decision: &MeshDecision<'_>,
    caller: &Caller<'_>,
    destination: &str,
) -> (GatewayResponse, String) {
    let text = denied_by(decision, destination);
    let by = match decision.decided_by {
        DecidedBy::Rule { .. } => "a deny rule",
        DecidedBy::Default { .. } => "the mesh's default",
    };
    let mut reason = format!(
        "the mesh does not let {} call {destination}: refused by {by}",
        caller.label()
    );
    if let Some((_, why)) = &decision.condition_error {
        reason.push_str(&format!(" (a condition could not be evaluated: {why})"));
    }
    let body = MeshDenialBody {
        status: StatusCode::FORBIDDEN.as_u16(),
        error: "Forbidden",
        reason,
        denied_by: &text,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = Response::new(ResponseBody::full(bytes));
    *response.status_mut() = StatusCode::FORBIDDEN;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(DENIED_BY.clone(), header_value_lossy(&text));
    (response.into(), text)
}
