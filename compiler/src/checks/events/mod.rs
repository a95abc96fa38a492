//! Checks of the events area (in progress).

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

crate::diagnostics::codes::codes! {}

/// Runs every events check.
pub fn check(_program: &Program, _graph: &crate::graph::ProgramGraph) -> Vec<Diagnostic> {
    Vec::new()
}
