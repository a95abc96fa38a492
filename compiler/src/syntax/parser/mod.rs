//! The nom parser: text → [`ast::File`] plus syntax diagnostics.
//!
//! Each top-level item is parsed on its own; after an error the parser skips to the next line
//! that starts a top-level item, so one run reports the first error of every broken block.

mod block;
mod cel;
mod context;
mod error;
mod gateway;
mod lexical;
mod literals;
mod mesh;
mod route;
mod route_action;
mod route_admission;
mod route_serve;
mod route_traffic;
mod service;
mod stream;
pub mod test_file;

pub use cel::{parse_cel, CelError};

use crate::diagnostics::suggest::closest;
use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Spanned};
use crate::syntax::ast;

use context::Ctx;
use error::{PError, PResult};
use lexical::{peek_word, string, word, ws};

/// The words that start a top-level item.
pub const TOP_LEVEL_KEYWORDS: &[&str] =
    &["gateway", "service", "mesh", "stream", "topic", "include"];

/// The most errors reported for one file: past this the rest of the file is skipped, so a
/// binary or generated file cannot bury the terminal (or take minutes to render).
pub const MAX_ERRORS_PER_FILE: usize = 100;

/// Parses one file. Always returns a tree (possibly partial) and every independent error found
/// (up to [`MAX_ERRORS_PER_FILE`]).
pub fn parse_file(file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    let cx = Ctx::new(file, text);
    let mut items = Vec::new();
    let mut errors = Vec::new();
    let mut input = text;
    let mut stopped = false;
    loop {
        if errors.len() + cx.reported() >= MAX_ERRORS_PER_FILE {
            errors.push(too_many_errors(&cx, input));
            stopped = true;
            break;
        }
        let step = ws(&cx, input).and_then(|(rest, _)| {
            if rest.is_empty() {
                Ok((rest, None))
            } else {
                item(&cx, rest).map(|(after, item)| (after, Some(item)))
            }
        });
        match step {
            Ok((_, None)) => break,
            Ok((rest, Some(item))) => {
                items.push(item);
                input = rest;
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                errors.push(cx.to_diagnostic(&e));
                if e.fatal {
                    break;
                }
                let at = text.len() - e.remaining.min(text.len());
                match resync(text, at) {
                    Some(next) => input = &text[next..],
                    None => break,
                }
            }
            Err(nom::Err::Incomplete(_)) => break,
        }
    }
    let (comments, mut diagnostics) = cx.finish();
    diagnostics.extend(errors);
    if diagnostics.len() > MAX_ERRORS_PER_FILE && !stopped {
        // One block can report several problems; keep the count bounded all the same.
        diagnostics.truncate(MAX_ERRORS_PER_FILE);
        let at = diagnostics
            .last()
            .and_then(|d| d.labels.first())
            .map(|l| l.span.end as usize)
            .unwrap_or(0);
        diagnostics.push(too_many_errors(
            &Ctx::new(file, text),
            &text[at.min(text.len())..],
        ));
    }
    (ast::File { items, comments }, diagnostics)
}

fn too_many_errors(cx: &Ctx, rest: &str) -> Diagnostic {
    let at = cx.offset(rest);
    Diagnostic::error(
        &crate::diagnostics::codes::SYNTAX,
        format!("too many errors; stopped after {MAX_ERRORS_PER_FILE}"),
    )
    .with_label(
        crate::source::Span::new(cx.file, at, at),
        "the rest of the file is not checked",
    )
    .with_help("fix the errors above and run again; is this the right file?")
}

/// The offset of the next line after `at` that starts with a top-level keyword, or with any
/// word in the first column (a misspelled declaration is still a declaration).
fn resync(text: &str, at: usize) -> Option<usize> {
    let mut line_start = text[at..].find('\n').map(|i| at + i + 1)?;
    loop {
        let line = &text[line_start..];
        let trimmed = line.trim_start_matches([' ', '\t', '\r']);
        if let Some(word) = peek_word(trimmed) {
            if trimmed.len() == line.len() || TOP_LEVEL_KEYWORDS.contains(&word) {
                let after = &trimmed[word.len()..];
                if after.is_empty() || after.starts_with([' ', '\t', '"', '{', '\r', '\n']) {
                    return Some(text.len() - trimmed.len());
                }
            }
        }
        line_start += line.find('\n')? + 1;
    }
}

fn item<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, ast::Item> {
    let Ok((rest, keyword)) = word(cx, input) else {
        return unknown_item(input, None);
    };
    let (rest, _) = ws(cx, rest)?;
    match keyword.node.as_str() {
        "include" => {
            let (after, path) = string(cx, rest, "a file path in quotes")?;
            Ok((
                after,
                ast::Item::Include(ast::Include {
                    path,
                    span: cx.span(input, after),
                }),
            ))
        }
        "gateway" => gateway::gateway(cx, input, rest).map(|(r, g)| (r, ast::Item::Gateway(g))),
        "service" => service::service(cx, input, rest).map(|(r, s)| (r, ast::Item::Service(s))),
        "mesh" => mesh::mesh(cx, input, rest).map(|(r, m)| (r, ast::Item::Mesh(m))),
        "stream" => stream::stream(cx, input, rest).map(|(r, s)| (r, ast::Item::Stream(s))),
        "topic" => stream::topic(cx, input, rest).map(|(r, t)| (r, ast::Item::Topic(t))),
        _ => unknown_item(input, Some(&keyword)),
    }
}

fn unknown_item<'a, T>(input: &'a str, keyword: Option<&Spanned<String>>) -> PResult<'a, T> {
    let mut error = PError::expected(
        input,
        "a declaration (gateway, service, mesh, stream, topic or include)",
    );
    if let Some(suggestion) =
        keyword.and_then(|k| closest(&k.node, TOP_LEVEL_KEYWORDS.iter().copied()))
    {
        error = error.help(format!("did you mean `{suggestion}`?"));
    } else {
        error = error.help("a .mesh file is a list of `gateway`, `service`, `mesh`, `stream`, `topic` and `include` declarations");
    }
    error.fail()
}
