//! Mirrors: each route's `mirror` and the mesh's pair mirrors, compared as written (service,
//! share, body limit, queue). Copies of real traffic going to a new place are a change of where
//! requests go, so they are reported with the destinations.

use std::collections::BTreeSet;

use meshwork_bundle::{Bundle, RouteAction, RouteMirror, SourceLocation};

use super::change::{Change, ChangeKind};
use super::describe::at;

/// A mirror as the diff compares it: its subject (`route edge/officers` or `mesh picard ->
/// riker`), its words, and where it is written (a route's mirror: the route's location).
type Line = (String, String, SourceLocation);

fn words(mirror: &RouteMirror) -> String {
    format!(
        "mirror to {} {}% max_body {} bytes queue {}",
        mirror.service, mirror.percent, mirror.max_body_bytes, mirror.queue
    )
}

fn lines(bundle: &Bundle) -> Vec<Line> {
    let mut out = Vec::new();
    for gateway in &bundle.gateways {
        for route in &gateway.routes {
            if let RouteAction::Forward {
                mirror: Some(mirror),
                ..
            } = &route.action
            {
                out.push((
                    format!("route {}/{}", gateway.name, route.name),
                    words(mirror),
                    route.source.clone(),
                ));
            }
        }
    }
    for line in &bundle.mesh.mirrors {
        for to in &line.to {
            out.push((
                format!("mesh {} -> {to}", line.from),
                words(&line.mirror),
                line.source.clone(),
            ));
        }
    }
    out
}

/// Every mirror added or removed from `old` to `new` (a changed one is both).
pub fn mirror_changes(old: &Bundle, new: &Bundle, out: &mut Vec<Change>) {
    let before = lines(old);
    let after = lines(new);
    let key = |line: &Line| (line.0.clone(), line.1.clone());
    let before_keys: BTreeSet<_> = before.iter().map(key).collect();
    let after_keys: BTreeSet<_> = after.iter().map(key).collect();
    for (lines, others, verb) in [
        (&after, &before_keys, "added"),
        (&before, &after_keys, "removed"),
    ] {
        for line in lines.iter().filter(|line| !others.contains(&key(line))) {
            out.push(Change::new(
                ChangeKind::Destination,
                line.0.clone(),
                format!("{} {verb}", line.1),
                Some(at(&line.2)),
            ));
        }
    }
}
