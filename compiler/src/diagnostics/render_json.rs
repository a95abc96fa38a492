//! Machine diagnostics: one JSON object per line.

use serde_json::{json, Value};

use crate::source::{SourceMap, Span};

use super::Diagnostic;

/// Renders one JSON object per diagnostic, newline-terminated.
pub fn render_json_lines(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        out.push_str(&to_json(sources, diagnostic).to_string());
        out.push('\n');
    }
    out
}

/// One diagnostic as a JSON value: code, severity, message, primary location, labels, help.
pub fn to_json(sources: &SourceMap, diagnostic: &Diagnostic) -> Value {
    let location = |span: Span| {
        let file = sources.file(span.file);
        let start = file.line_col(span.start);
        let end = file.line_col(span.end);
        json!({
            "file": file.path,
            "line": start.line,
            "column": start.column,
            "end_line": end.line,
            "end_column": end.column,
            "byte_start": span.start,
            "byte_end": span.end,
        })
    };
    let labels: Vec<Value> = diagnostic
        .labels
        .iter()
        .map(|l| {
            let mut value = location(l.span);
            value["message"] = json!(l.message);
            value
        })
        .collect();
    let mut value = json!({
        "code": diagnostic.code.id,
        "severity": diagnostic.severity.as_str(),
        "message": diagnostic.message,
        "help": diagnostic.help,
        "labels": labels,
    });
    if let Some(primary) = diagnostic.primary_span() {
        if let (Some(obj), Value::Object(loc)) = (value.as_object_mut(), location(primary)) {
            for key in ["file", "line", "column", "end_line", "end_column"] {
                if let Some(v) = loc.get(key) {
                    obj.insert(key.to_string(), v.clone());
                }
            }
        }
    }
    value
}
