//! `strip_prefix` beside `rewrite` on one forward (W0213).
//!
//! *What*: `forward SERVICE strip_prefix "…" rewrite "…"`, in any order.
//! *Why*: `rewrite` replaces the whole upstream path, so the prefix is never stripped: meshd
//! applies the rewrite and ignores `strip_prefix` without a word. The author meant one of the two,
//! and which path the upstream sees is not what the line reads as.
//! *Example*: `forward picard strip_prefix "/officers" rewrite "/v2/{id}"`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::REWRITE_OVERRIDES_STRIP;

/// Every forward with both path changes.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(forward) = route.forward() else {
            continue;
        };
        let (Some(strip), Some(rewrite)) = (&forward.strip_prefix, &forward.rewrite) else {
            continue;
        };
        out.push(
            Diagnostic::warning(
                &REWRITE_OVERRIDES_STRIP,
                format!(
                    "route `{}` never strips \"{}\": `rewrite` replaces the whole path",
                    route.name.node, strip.node
                ),
            )
            .with_label(strip.span, "ignored")
            .with_label(rewrite.span, "the upstream path is always this")
            .with_help("keep one: `rewrite` to set the path, or `strip_prefix` to shorten it"),
        );
    }
    out
}
