//! `expect fault …`, `expect no_fault`, `expect mirror SERVICE` and `expect no_mirror`, checked
//! against what [`super::traffic_case`] decided.

use crate::syntax::test_ast::{ExpectKind, ExpectedFault};

use super::expectations::at;
use super::outcome::Outcome;

/// `None` when the traffic expectation `kind` holds, else why not.
pub fn check(
    kind: &ExpectKind,
    outcome: &Outcome,
    happened: impl Fn() -> String,
) -> Option<String> {
    let unforced = "(faults fire in a test only under `faults forced`)";
    match kind {
        ExpectKind::Fault(ExpectedFault::Abort(status)) => match &outcome.fault_abort {
            Some((fired, _)) if status.as_ref().is_none_or(|s| s.node == *fired) => None,
            Some((fired, source)) => Some(format!(
                "expected a fault abort with {}, but the fault at {} aborts with {fired}",
                status.as_ref().map_or(0, |s| s.node),
                at(source)
            )),
            None => Some(format!(
                "expected a fault abort, but none fired {unforced}: {}",
                happened()
            )),
        },
        ExpectKind::Fault(ExpectedFault::Delay(delay)) => match &outcome.fault_delay {
            Some((fired, _)) if delay.as_ref().is_none_or(|d| d.node.millis == *fired) => None,
            Some((fired, source)) => Some(format!(
                "expected a fault delay of {}ms, but the fault at {} delays {fired}ms",
                delay.as_ref().map_or(0, |d| d.node.millis),
                at(source)
            )),
            None => Some(format!(
                "expected a fault delay, but none fired {unforced}: {}",
                happened()
            )),
        },
        ExpectKind::NoFault => {
            let fired: Vec<String> = outcome
                .fault_delay
                .iter()
                .map(|(ms, source)| format!("a {ms}ms delay at {}", at(source)))
                .chain(
                    outcome
                        .fault_abort
                        .iter()
                        .map(|(status, source)| format!("an abort with {status} at {}", at(source))),
                )
                .collect();
            (!fired.is_empty()).then(|| format!("expected no fault, but {} fired", fired.join(" and ")))
        }
        ExpectKind::Mirror(service) => match (&outcome.mirror, &outcome.mirror_skipped) {
            (Some((mirror, _)), _) if *mirror == service.node => None,
            (Some((mirror, _)), _) => Some(format!(
                "expected a copy to {}, but the route mirrors to {mirror}",
                service.node
            )),
            (None, Some(why)) => Some(format!(
                "expected a copy to {}, but it is not copied: {why}",
                service.node
            )),
            (None, None) => Some(format!(
                "expected a copy to {}, but no mirror copies it: {}",
                service.node,
                happened()
            )),
        },
        ExpectKind::NoMirror => outcome.mirror.as_ref().map(|(mirror, percent)| {
            format!("expected no copy, but the route's mirror copies {percent}% of such requests to {mirror}")
        }),
        _ => None,
    }
}
