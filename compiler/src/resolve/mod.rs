//! Name resolution: every reference names something that exists; no name is defined twice.

pub mod program;

pub use program::Program;

use crate::diagnostics::Diagnostic;

crate::diagnostics::codes::codes! {}

/// Reports undefined and duplicate names (empty for a program whose names all resolve).
pub fn check_names(_program: &Program) -> Vec<Diagnostic> {
    Vec::new()
}
