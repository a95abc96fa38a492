//! Machine diagnostics: one JSON object per line.

use crate::source::SourceMap;

use super::Diagnostic;

/// Renders one JSON object per diagnostic, newline-separated.
pub fn render_json_lines(_sources: &SourceMap, _diagnostics: &[Diagnostic]) -> String {
    todo!("json")
}
