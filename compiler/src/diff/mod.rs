//! `meshc diff OLD NEW`: what a change to a program does, in behaviour rather than text.
//!
//! Both programs are compiled (or read as bundles) and compared item by item: routes added,
//! removed, re-matched or re-ordered, each with a sample request whose answer changes (samples
//! are built from the routes' matches and run through both programs' shared matcher, the code
//! meshd routes with); auth and limits per route, weaker or stronger; consumers gaining or
//! losing access; mesh pairs allowed or denied; topics and streams; services' resilience; injected faults. Every
//! change has a [`ChangeKind`], which `--fail-on` gates on.

pub mod admission;
pub mod change;
pub mod describe;
pub mod events;
pub mod faults;
pub mod mesh_pairs;
pub mod render;
pub mod route_answers;
pub mod routes;
pub mod sample_requests;
pub mod services;

use std::collections::BTreeMap;

use meshwork_bundle::Bundle;
use serde::Serialize;

pub use change::{Change, ChangeKind, SampleAnswer, UnknownKind};

/// Every behaviour change between two programs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramDiff {
    /// The old program's bundle digest.
    pub old_digest: String,
    /// The new program's bundle digest.
    pub new_digest: String,
    /// Changes grouped by kind (in [`ChangeKind::ALL`] order), then by subject.
    pub changes: Vec<Change>,
    /// How many changes of each kind.
    pub summary: BTreeMap<String, usize>,
}

impl ProgramDiff {
    /// Whether nothing changed in behaviour.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes of the kinds in `gate` (`any` in the command line means every kind).
    pub fn gated<'d>(&'d self, gate: &'d [ChangeKind]) -> impl Iterator<Item = &'d Change> + 'd {
        self.changes.iter().filter(move |c| gate.contains(&c.kind))
    }
}

/// Compares `old` with `new`.
pub fn diff(old: &Bundle, new: &Bundle) -> ProgramDiff {
    let mut changes = Vec::new();
    routes::route_changes(old, new, &mut changes);
    mesh_pairs::mesh_changes(old, new, &mut changes);
    events::event_changes(old, new, &mut changes);
    services::service_changes(old, new, &mut changes);
    faults::fault_changes(old, new, &mut changes);
    // Stable: within a kind and subject, changes keep the order they were found in.
    changes.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.subject.cmp(&b.subject)));
    let mut summary = BTreeMap::new();
    for change in &changes {
        *summary.entry(change.kind.as_str().to_string()).or_insert(0) += 1;
    }
    ProgramDiff {
        old_digest: old.digest.clone(),
        new_digest: new.digest.clone(),
        changes,
        summary,
    }
}
