//! Printing diagnostics to standard error in the chosen format.

use std::io::{IsTerminal, Write};

use crate::diagnostics::render_github::render_github;
use crate::diagnostics::render_human::{render_report, render_summary};
use crate::diagnostics::render_json::render_json_lines;
use crate::diagnostics::render_sarif::render_sarif;
use crate::diagnostics::Diagnostic;
use crate::source::SourceMap;

use super::args::Format;

/// Prints diagnostics: for people on standard error (with a summary line), for machines on
/// standard output (so `meshc check --format sarif > results.sarif` works).
pub fn print_diagnostics(sources: &SourceMap, diagnostics: &[Diagnostic], format: Format) {
    let color = format == Format::Human
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let text = render_diagnostics(sources, diagnostics, format, color);
    let _ = match format {
        Format::Human => std::io::stderr().lock().write_all(text.as_bytes()),
        Format::Json | Format::Sarif | Format::Github => {
            std::io::stdout().lock().write_all(text.as_bytes())
        }
    };
}

/// The text [`print_diagnostics`] writes: for `Human`, the reports and a summary line (nothing
/// when there are no diagnostics); for the machine formats, their documents.
pub fn render_diagnostics(
    sources: &SourceMap,
    diagnostics: &[Diagnostic],
    format: Format,
    color: bool,
) -> String {
    match format {
        Format::Human if diagnostics.is_empty() => String::new(),
        Format::Human => format!(
            "{}{}\n",
            render_report(sources, diagnostics, color),
            render_summary(diagnostics)
        ),
        Format::Json => render_json_lines(sources, diagnostics),
        Format::Sarif => render_sarif(sources, diagnostics),
        Format::Github => render_github(sources, diagnostics),
    }
}

/// True when the diagnostics fail the run: any error, or any warning under `--deny-warnings`.
pub fn fails(diagnostics: &[Diagnostic], deny_warnings: bool) -> bool {
    diagnostics.iter().any(|d| d.is_error() || deny_warnings)
}

/// The diagnostics without the warnings of the codes in `allow`; an unknown code or an error
/// code in `allow` is a usage error (allowing an error would hide a program meshd refuses).
pub fn without_allowed(
    diagnostics: &[Diagnostic],
    allow: &[String],
) -> Result<Vec<Diagnostic>, String> {
    for id in allow {
        let Some(code) = crate::catalog::code_by_id(id) else {
            return Err(format!(
                "--allow {id}: no such diagnostic code (see `meshc codes`)"
            ));
        };
        if !code.id.starts_with('W') {
            return Err(format!(
                "--allow {id}: {} is an error, and errors cannot be allowed",
                code.id
            ));
        }
    }
    Ok(diagnostics
        .iter()
        .filter(|d| d.is_error() || !allow.iter().any(|id| id == d.code.id))
        .cloned()
        .collect())
}
