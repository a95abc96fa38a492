//! SARIF 2.1.0 output, for code-scanning services: one run, the rules behind the results
//! (documented from each code's table entry), and one result per diagnostic.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::source::{SourceMap, Span};

use super::{Code, Diagnostic, Severity};

/// Where tools can read about the SARIF format this output follows.
pub const SARIF_SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Renders the diagnostics as one SARIF log (pretty JSON, trailing newline).
pub fn render_sarif(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut rules: BTreeMap<&'static str, &'static Code> = BTreeMap::new();
    for diagnostic in diagnostics {
        rules.insert(diagnostic.code.id, diagnostic.code);
    }
    let rule_index: BTreeMap<&str, usize> =
        rules.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let rules_json: Vec<Value> = rules.values().map(|code| rule(code)).collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| result(sources, d, rule_index.get(d.code.id).copied().unwrap_or(0)))
        .collect();
    let log = json!({
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "meshc",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules_json,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}

fn rule(code: &Code) -> Value {
    json!({
        "id": code.id,
        "name": pascal_case(code.title),
        "shortDescription": { "text": code.title },
        "fullDescription": { "text": code.explanation },
        "help": { "text": code.fix },
        "defaultConfiguration": { "level": if code.id.starts_with('W') { "warning" } else { "error" } },
    })
}

fn pascal_case(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Relative paths stay relative (resolved against the checkout by code scanning); absolute ones
/// become `file://` URIs.
fn artifact_uri(path: &str) -> String {
    if path.starts_with('/') {
        format!("file://{path}")
    } else {
        path.to_string()
    }
}

fn location(sources: &SourceMap, span: Span, message: Option<&str>) -> Value {
    let file = sources.file(span.file);
    let start = file.line_col(span.start);
    let end = file.line_col(span.end);
    let mut value = json!({
        "physicalLocation": {
            "artifactLocation": { "uri": artifact_uri(&file.path) },
            "region": {
                "startLine": start.line,
                "startColumn": start.column,
                "endLine": end.line,
                "endColumn": end.column,
            }
        }
    });
    if let Some(message) = message {
        value["message"] = json!({ "text": message });
    }
    value
}

fn result(sources: &SourceMap, diagnostic: &Diagnostic, rule_index: usize) -> Value {
    let mut text = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        text = format!("{text}\nhelp: {help}");
    }
    let mut value = json!({
        "ruleId": diagnostic.code.id,
        "ruleIndex": rule_index,
        "level": match diagnostic.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "message": { "text": text },
    });
    if let Some((primary, related)) = diagnostic.labels.split_first() {
        value["locations"] = json!([location(sources, primary.span, Some(&primary.message))]);
        if !related.is_empty() {
            let related: Vec<Value> = related
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let mut v = location(sources, l.span, Some(&l.message));
                    v["id"] = json!(i + 1);
                    v
                })
                .collect();
            value["relatedLocations"] = json!(related);
        }
    }
    value
}
