//! The fault stage of the gateway chain, between admission and the action: the route's
//! `fault` rules decide whether this admitted request is delayed (the chain sleeps) or answered
//! with an injected status instead of its action. Both are written into the outcome, so the
//! access log (`"fault"`) and `meshd_faults_injected_total` show them.

use crate::admit::Admitted;
use crate::forward::fault_injection::{FaultDecision, FaultInjection};
use crate::server::error_response::json_error;
use crate::server::gateway_response::GatewayResponse;

use super::admission::RequestSeen;
use super::outcome::Outcome;

/// The faults for one admitted request, recorded in `outcome`.
#[inline(always)]
pub fn decide_faults(
    faults: &FaultInjection,
    seen: &RequestSeen<'_>,
    admitted: &Admitted<'_>,
    outcome: &mut Outcome<'_>,
) -> FaultDecision {
    let facts = seen.facts(None);
    let decision = faults.decide(admitted.cel_input(&facts));
    outcome.fault = decision.label();
    decision
}

/// The answer of an injected abort: the status with a JSON body naming the route, as every
/// answer the gateway makes itself.
pub fn fault_aborted(
    status: http::StatusCode,
    route: &str,
    outcome: &mut Outcome<'_>,
) -> GatewayResponse {
    let reason = "fault injected by the route's `fault abort` rule";
    outcome.error = Some(reason.to_string());
    json_error(status, reason, Some(route)).into()
}
