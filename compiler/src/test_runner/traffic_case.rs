//! Injected faults and mirrors in `meshc test`, decided as meshd decides them but without the
//! dice: under `faults forced` every fault whose condition holds fires (its share taken as
//! 100%), under `faults never` (the default) none does, so a test of a chaos rule is
//! deterministic. As in meshd, the first delay and the first abort that apply fire, the delay
//! before the abort, after admission; a condition that fails to evaluate does not fault. A mirror
//! copies a forwarded request whose body fits its `max_body` when its share is above 0% (the
//! draw itself is left to meshd: `expect mirror` says the request is one the mirror copies).

use meshwork_bundle::{AdmissionStep, FaultAction, MeshFault, Route, RouteAction, SourceLocation};
use meshwork_policy::admit::cel::{CelInput, RequestCondition};

use crate::syntax::test_ast::FaultMode;

use super::outcome::Outcome;

/// One fault as the test runner weighs it.
struct FaultLine<'b> {
    action: FaultAction,
    percent: u8,
    when: Option<&'b str>,
    source: &'b SourceLocation,
}

/// Fires the faults of `lines` whose condition holds for `input`, into `outcome`.
fn fire<'b>(
    mode: FaultMode,
    lines: impl Iterator<Item = FaultLine<'b>>,
    input: CelInput<'_>,
    outcome: &mut Outcome,
) {
    if mode == FaultMode::Never {
        return;
    }
    for line in lines {
        let taken = match line.action {
            FaultAction::Abort { .. } => outcome.fault_abort.is_some(),
            FaultAction::Delay { .. } => outcome.fault_delay.is_some(),
        };
        if taken || line.percent == 0 {
            continue;
        }
        let holds = match line.when {
            None => true,
            Some(cel) => RequestCondition::compile(cel)
                .ok()
                .and_then(|condition| condition.evaluate(input).ok())
                .unwrap_or(false),
        };
        if !holds {
            continue;
        }
        match line.action {
            FaultAction::Abort { status } => {
                outcome.fault_abort = Some((status, line.source.clone()));
            }
            FaultAction::Delay { delay_ms } => {
                outcome.fault_delay = Some((delay_ms, line.source.clone()));
            }
        }
    }
}

/// A route's faults for an admitted request; an abort becomes the gateway's answer, as meshd
/// gives it (the status with a JSON body naming the route). Returns whether it aborted.
pub fn route_faults(
    mode: FaultMode,
    route: &Route,
    input: CelInput<'_>,
    outcome: &mut Outcome,
) -> bool {
    let lines = route.admission.iter().filter_map(|step| match step {
        AdmissionStep::Fault {
            action,
            percent,
            when,
            source,
        } => Some(FaultLine {
            action: *action,
            percent: *percent,
            when: when.as_deref(),
            source,
        }),
        _ => None,
    });
    fire(mode, lines, input, outcome);
    let Some((status, _)) = outcome.fault_abort else {
        return false;
    };
    let reason = "fault injected by the route's `fault abort` rule";
    outcome.status = Some(status);
    outcome.body = Some(abort_body(status, reason, Some(&route.name)).into_bytes());
    true
}

/// The faults on the pair `source` → `destination` of an allowed mesh call; an abort becomes
/// the sidecar's answer.
pub fn pair_faults(
    mode: FaultMode,
    faults: &[MeshFault],
    source: Option<&str>,
    destination: &str,
    input: CelInput<'_>,
    outcome: &mut Outcome,
) {
    let lines = faults
        .iter()
        .filter(|fault| fault.covers(source, destination))
        .map(|fault| FaultLine {
            action: fault.action,
            percent: fault.percent,
            when: fault.when.as_deref(),
            source: &fault.source,
        });
    fire(mode, lines, input, outcome);
    if let Some((status, _)) = outcome.fault_abort {
        let reason = "fault injected by the mesh's `fault … abort` rule on this pair";
        outcome.status = Some(status);
        outcome.body = Some(abort_body(status, reason, None).into_bytes());
    }
}

/// The mirror that copies a forwarded request of `route` with a body of `body_len` bytes: the
/// service, or why the request is not copied.
pub fn route_mirror(route: &Route, body_len: usize, outcome: &mut Outcome) {
    let RouteAction::Forward {
        mirror: Some(mirror),
        ..
    } = &route.action
    else {
        return;
    };
    if mirror.percent == 0 {
        outcome.mirror_skipped = Some(format!("the mirror to {} copies 0%", mirror.service));
    } else if body_len as u64 > mirror.max_body_bytes {
        outcome.mirror_skipped = Some(format!(
            "the body ({body_len} bytes) is larger than the mirror's max_body ({} bytes)",
            mirror.max_body_bytes
        ));
    } else {
        outcome.mirror = Some((mirror.service.clone(), mirror.percent));
    }
}

/// meshd's JSON error body: `{"status":…,"error":…,"reason":…[,"route":…]}`, in that order.
fn abort_body(status: u16, reason: &str, route: Option<&str>) -> String {
    let error = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let quoted = |text: &str| serde_json::to_string(text).unwrap_or_default();
    let route = route
        .map(|r| format!(",\"route\":{}", quoted(r)))
        .unwrap_or_default();
    format!(
        "{{\"status\":{status},\"error\":{},\"reason\":{}{route}}}",
        quoted(error),
        quoted(reason)
    )
}
