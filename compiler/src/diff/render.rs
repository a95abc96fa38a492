//! The diff as text for a terminal, as Markdown for a pull-request comment, or as JSON.

use std::fmt::Write;

use super::change::{Change, ChangeKind};
use super::ProgramDiff;

/// A heading for each kind of change.
fn title(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::NewExposure => "New exposure (reachable without credentials)",
        ChangeKind::WeakerAuth => "Weaker auth",
        ChangeKind::StrongerAuth => "Stronger auth",
        ChangeKind::AuthSettings => "Auth settings",
        ChangeKind::WeakerLimits => "Weaker limits",
        ChangeKind::StrongerLimits => "Stronger limits",
        ChangeKind::RouteOrder => "Route precedence",
        ChangeKind::RouteMatch => "Route matches",
        ChangeKind::NewRoute => "New routes",
        ChangeKind::RemovedRoute => "Removed routes",
        ChangeKind::Destination => "Destinations",
        ChangeKind::Headers => "Header rules",
        ChangeKind::MeshAllowed => "Mesh: newly allowed",
        ChangeKind::MeshDenied => "Mesh: newly denied",
        ChangeKind::Events => "Topics and streams",
        ChangeKind::Resilience => "Service resilience",
        ChangeKind::Faults => "Injected faults",
        ChangeKind::Topology => "Gateways and services",
    }
}

fn groups(diff: &ProgramDiff) -> impl Iterator<Item = (ChangeKind, Vec<&Change>)> + '_ {
    ChangeKind::ALL.into_iter().filter_map(|kind| {
        let changes: Vec<&Change> = diff.changes.iter().filter(|c| c.kind == kind).collect();
        (!changes.is_empty()).then_some((kind, changes))
    })
}

/// Text for a terminal.
pub fn render_text(diff: &ProgramDiff) -> String {
    let mut out = String::new();
    if diff.is_empty() {
        out.push_str("no change in behaviour\n");
        return out;
    }
    let _ = writeln!(out, "{} change(s) in behaviour", diff.changes.len());
    for (kind, changes) in groups(diff) {
        let _ = writeln!(
            out,
            "\n{}{} [{}]:",
            if kind.is_loosening() { "! " } else { "" },
            title(kind),
            kind
        );
        for change in changes {
            let _ = writeln!(out, "  {}: {}", change.subject, change.message);
            if let Some(source) = &change.source {
                let _ = writeln!(out, "    at {source}");
            }
            if let Some(sample) = &change.sample {
                let _ = writeln!(out, "    e.g. {}", sample.request);
                let _ = writeln!(out, "      before: {}", sample.before);
                let _ = writeln!(out, "      after:  {}", sample.after);
            }
        }
    }
    out
}

/// Markdown, for a pull-request comment.
pub fn render_markdown(diff: &ProgramDiff, gate: &[ChangeKind]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### meshc diff\n");
    if diff.is_empty() {
        out.push_str("No change in behaviour.\n");
        return out;
    }
    let gated = diff.gated(gate).count();
    let _ = writeln!(
        out,
        "**{} change(s) in behaviour**{}\n",
        diff.changes.len(),
        if gated > 0 {
            format!(
                "; {gated} of a kind this check fails on ({})",
                gate.iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        }
    );
    for (kind, changes) in groups(diff) {
        let _ = writeln!(
            out,
            "#### {}{} (`{kind}`)\n",
            if kind.is_loosening() { "⚠️ " } else { "" },
            title(kind)
        );
        for change in changes {
            let _ = write!(
                out,
                "- **{}**: {}",
                markdown_text(&change.subject),
                markdown_text(&change.message)
            );
            if let Some(source) = &change.source {
                let _ = write!(out, " — `{source}`");
            }
            out.push('\n');
            if let Some(sample) = &change.sample {
                let _ = writeln!(out, "  - e.g. `{}`", sample.request.replace('`', "'"));
                let _ = writeln!(out, "    - before: {}", markdown_text(&sample.before));
                let _ = writeln!(out, "    - after: {}", markdown_text(&sample.after));
            }
        }
        out.push('\n');
    }
    out
}

/// Text with the characters that would start emphasis or HTML escaped, except inside code
/// spans (which quote names and show their text as it is).
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code && matches!(c, '*' | '<' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One JSON document: digests, changes and the count per kind.
pub fn render_json(diff: &ProgramDiff) -> String {
    let mut json = serde_json::to_string_pretty(diff).unwrap_or_else(|_| "{}".to_string());
    json.push('\n');
    json
}
