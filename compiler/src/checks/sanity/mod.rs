//! Checks of the sanity area (in progress).

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

crate::diagnostics::codes::codes! {}

/// Runs every sanity check.
pub fn check(_program: &Program) -> Vec<Diagnostic> {
    Vec::new()
}
