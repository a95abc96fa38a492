//! `meshc diff OLD NEW`: compile both programs (or read bundles) and print what changes in
//! behaviour; exit 1 when a change of a `--fail-on` kind is found.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::diff::render::{render_json, render_markdown, render_text};
use crate::diff::{diff, ChangeKind};

use super::program_input::load_bundle;
use super::{EXIT_INPUT_ERRORS, EXIT_OK, EXIT_USAGE};

/// `meshc diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The program before the change: a .mesh file, a directory or a bundle (.json).
    pub old: PathBuf,
    /// The program after the change.
    pub new: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Exit 1 when a change of one of these kinds is found (comma-separated; `any` for every
    /// kind), e.g. `--fail-on weaker-auth,new-exposure`.
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    pub fail_on: Vec<String>,
}

/// How the diff is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Text for a terminal.
    Text,
    /// Markdown for a pull-request comment.
    Markdown,
    /// One JSON document.
    Json,
}

/// The kinds named by `--fail-on`.
pub fn parse_gate(values: &[String]) -> Result<Vec<ChangeKind>, String> {
    let mut kinds = Vec::new();
    for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if value == "any" {
            kinds.extend(ChangeKind::ALL);
        } else {
            kinds.push(value.parse::<ChangeKind>().map_err(|e| e.to_string())?);
        }
    }
    kinds.sort();
    kinds.dedup();
    Ok(kinds)
}

/// Runs `diff`; returns the exit code.
pub fn run_diff(args: &DiffArgs) -> u8 {
    let gate = match parse_gate(&args.fail_on) {
        Ok(gate) => gate,
        Err(message) => {
            eprintln!("error: --fail-on: {message}");
            return EXIT_USAGE;
        }
    };
    let old = match load_bundle(std::slice::from_ref(&args.old)) {
        Ok(bundle) => bundle,
        Err(code) => return code,
    };
    let new = match load_bundle(std::slice::from_ref(&args.new)) {
        Ok(bundle) => bundle,
        Err(code) => return code,
    };
    let changes = diff(&old, &new);
    let text = match args.format {
        DiffFormat::Text => render_text(&changes),
        DiffFormat::Markdown => render_markdown(&changes, &gate),
        DiffFormat::Json => render_json(&changes),
    };
    if std::io::stdout().lock().write_all(text.as_bytes()).is_err() {
        return EXIT_USAGE;
    }
    let failing: Vec<&str> = {
        let mut kinds: Vec<&str> = changes.gated(&gate).map(|c| c.kind.as_str()).collect();
        kinds.dedup();
        kinds
    };
    if failing.is_empty() {
        EXIT_OK
    } else {
        eprintln!("meshc diff: failing on {}", failing.join(", "));
        EXIT_INPUT_ERRORS
    }
}
