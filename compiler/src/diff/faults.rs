//! Injected faults: each route's `fault` lines and the mesh's pair faults, compared as written
//! (action, share, condition). A fault that appears, disappears or changes is reported, so a
//! chaos rule on its way to production is seen in review and `--fail-on faults` can stop it.

use std::collections::BTreeSet;

use meshwork_bundle::{AdmissionStep, Bundle, FaultAction, SourceLocation};

use super::change::{Change, ChangeKind};
use super::describe::at;

/// A fault as the diff compares it: its subject (`route edge/officers` or `mesh picard ->
/// riker`), its words, and where it is written.
type Line = (String, String, SourceLocation);

fn words(action: &FaultAction, percent: u8, when: Option<&str>) -> String {
    let action = match action {
        FaultAction::Abort { status } => format!("abort {percent}% {status}"),
        FaultAction::Delay { delay_ms } => format!("delay {percent}% {delay_ms}ms"),
    };
    match when {
        Some(when) => format!("{action} when {when}"),
        None => format!("{action} for every caller"),
    }
}

fn lines(bundle: &Bundle) -> Vec<Line> {
    let mut out = Vec::new();
    for gateway in &bundle.gateways {
        for route in &gateway.routes {
            for step in &route.admission {
                if let AdmissionStep::Fault {
                    action,
                    percent,
                    when,
                    source,
                } = step
                {
                    out.push((
                        format!("route {}/{}", gateway.name, route.name),
                        words(action, *percent, when.as_deref()),
                        source.clone(),
                    ));
                }
            }
        }
    }
    for fault in &bundle.mesh.faults {
        for to in &fault.to {
            out.push((
                format!("mesh {} -> {to}", fault.from),
                words(&fault.action, fault.percent, fault.when.as_deref()),
                fault.source.clone(),
            ));
        }
    }
    out
}

/// Every fault added or removed from `old` to `new` (a changed one is both).
pub fn fault_changes(old: &Bundle, new: &Bundle, out: &mut Vec<Change>) {
    let before = lines(old);
    let after = lines(new);
    let key = |line: &Line| (line.0.clone(), line.1.clone());
    let before_keys: BTreeSet<_> = before.iter().map(key).collect();
    let after_keys: BTreeSet<_> = after.iter().map(key).collect();
    for line in &after {
        if !before_keys.contains(&key(line)) {
            out.push(Change::new(
                ChangeKind::Faults,
                line.0.clone(),
                format!("fault added: {}", line.1),
                Some(at(&line.2)),
            ));
        }
    }
    for line in &before {
        if !after_keys.contains(&key(line)) {
            out.push(Change::new(
                ChangeKind::Faults,
                line.0.clone(),
                format!("fault removed: {}", line.1),
                Some(at(&line.2)),
            ));
        }
    }
}
