//! The checks that prove a resolved program sound, one module per area. Each area declares its
//! codes beside the rules that report them.

pub mod cel;
pub mod events;
pub mod mesh;
pub mod paths;
pub mod routes;
pub mod sanity;
pub mod security;
pub mod traffic;
pub mod upgrades;

use crate::diagnostics::Diagnostic;
use crate::graph::ProgramGraph;
use crate::resolve::Program;

/// Runs every area's checks over the program and its graph.
pub fn run_all(program: &Program, graph: &ProgramGraph) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    diagnostics.extend(routes::check(program));
    diagnostics.extend(paths::check(program));
    diagnostics.extend(mesh::check(program, graph));
    diagnostics.extend(events::check(program, graph));
    diagnostics.extend(cel::check(program));
    diagnostics.extend(security::check(program));
    diagnostics.extend(sanity::check(program));
    diagnostics.extend(traffic::check(program));
    diagnostics.extend(upgrades::check(program));
    diagnostics
}
