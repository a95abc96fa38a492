//! `meshc fmt`: one canonical layout for `.mesh` sources.
//!
//! The layout (documented for users in `docs/language.md`, "Formatting"):
//! - two-space indentation, one statement per line, statements in source order;
//! - a blank line between top-level declarations that take more than one line; other blank
//!   lines are kept (at most one), never at the start or end of a block;
//! - short blocks fold onto one line with two spaces between statements: consumers, circuit
//!   breakers and topic blocks whenever they fit, services with one statement, routes with at
//!   most three statements none of which carries CEL;
//! - lists are `[a, b]`, broken one item per line (with a trailing comma) when they hold a
//!   comment or the line would pass 100 columns;
//! - literals in canonical spelling (see `literals.rs`); CEL expressions exactly as written;
//! - every comment kept: standalone comments stay above what they precede, trailing comments
//!   stay at the end of their line.
//!
//! Each item kind builds a small layout ([`layout::Entry`]) in its own file; `printer.rs` alone
//! places line breaks and comments.

mod comments;
mod gateway;
mod layout;
mod literals;
mod mesh;
mod printer;
mod route;
mod service;
mod source_scan;
mod stream;

#[cfg(test)]
mod tests;

use crate::diagnostics::Diagnostic;
use crate::source::FileId;
use crate::syntax::ast;
use crate::syntax::parser::parse_file;

use layout::{Entry, Line};
use source_scan::SourceText;

pub use printer::WIDTH;

/// Why a file was not formatted.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file does not parse; it is left as it is.
    #[error("the file has syntax errors")]
    Syntax(Vec<Diagnostic>),
    /// The formatted text would not parse back to the same program, keep every comment, or
    /// stay the same when formatted again: a formatter bug, so nothing is written.
    #[error("internal formatter error: {0}; the file is left unchanged")]
    Unstable(String),
}

/// Prints `file` (parsed from `source`) in canonical layout, keeping comments.
pub fn format_file(file: &ast::File, source: &str) -> String {
    let text = SourceText::new(source, &file.comments);
    let entries: Vec<Entry> = file
        .items
        .iter()
        .map(|item| item_entry(&text, item))
        .collect();
    printer::print_file(text, &entries)
}

/// Parses `source` and formats it, then checks the result: it must parse, keep every comment
/// and be a fixed point of formatting.
pub fn format_source(file: FileId, source: &str) -> Result<String, FormatError> {
    let (tree, diagnostics) = parse_file(file, source);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(FormatError::Syntax(diagnostics));
    }
    let formatted = format_file(&tree, source);
    let (again, diagnostics) = parse_file(file, &formatted);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(FormatError::Unstable(
            "the formatted text does not parse".to_string(),
        ));
    }
    if comment_texts(&tree) != comment_texts(&again) {
        return Err(FormatError::Unstable("a comment would be lost".to_string()));
    }
    if format_file(&again, &formatted) != formatted {
        return Err(FormatError::Unstable(
            "formatting twice changes the text again".to_string(),
        ));
    }
    Ok(formatted)
}

fn comment_texts(file: &ast::File) -> Vec<String> {
    let mut texts: Vec<String> = file
        .comments
        .iter()
        .map(|c| {
            if c.text.starts_with('#') {
                c.text.trim_end().to_string()
            } else {
                c.text.replace("\r\n", "\n")
            }
        })
        .collect();
    texts.sort();
    texts
}

fn item_entry(source: &SourceText<'_>, item: &ast::Item) -> Entry {
    match item {
        ast::Item::Include(include) => Line::new()
            .text("include")
            .text(literals::string(&include.path.node))
            .at(include.span.start as usize, include.span.end as usize),
        ast::Item::Gateway(g) => gateway::gateway(source, g),
        ast::Item::Service(s) => service::service(source, s),
        ast::Item::Mesh(m) => mesh::mesh(source, m),
        ast::Item::Stream(s) => stream::stream(source, s),
        ast::Item::Topic(t) => stream::topic(source, t),
    }
}
