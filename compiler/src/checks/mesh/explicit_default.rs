//! A mesh block without a `default` (E0302).
//!
//! *What*: the program has a `mesh` block but no `default allow` or `default deny`.
//! *Why*: whether unlisted calls pass is the most important line of a policy; Kuma and Istio
//! differ on it (and changed it between versions), so Meshwork makes the reader see it.
//! *Example*: `mesh { allow edge -> picard }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::source::Span;

use super::MESH_DEFAULT_MISSING;

/// An error at the first mesh block when no block states the default.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let Some(first) = program.meshes.first() else {
        return Vec::new();
    };
    if program.mesh_default().is_some() {
        return Vec::new();
    }
    let keyword = Span::new(
        first.span.file,
        first.span.start as usize,
        first.span.start as usize + "mesh".len(),
    );
    vec![Diagnostic::error(
        &MESH_DEFAULT_MISSING,
        "the mesh policy does not say what happens to calls no rule names",
    )
    .with_label(keyword, "no `default` in any mesh block")
    .with_help(
        "add `default deny` (only listed calls pass) or `default allow` (only denied calls fail)",
    )]
}
