//! Human diagnostics through miette: code, `file:line:col`, the source line with labels, help.

use crate::source::SourceMap;

use super::Diagnostic;

/// Renders diagnostics as text; `color` only when writing to a terminal. Width is fixed so
/// output is stable in golden tests.
pub fn render_report(_sources: &SourceMap, _diagnostics: &[Diagnostic], _color: bool) -> String {
    todo!("render")
}
