//! `{ statement… }` blocks: the loop shared by every block kind, and the checks for
//! settings that may appear once or must appear.

use crate::diagnostics::codes;
use crate::diagnostics::suggest::closest;
use crate::diagnostics::Diagnostic;
use crate::source::{Span, Spanned};

use super::context::Ctx;
use super::error::{PError, PResult};
use super::lexical::{word_ref, ws};

/// Parses `{ … }`: for each statement, reads its keyword and calls `statement` with the input
/// after it. `statement` returns `Ok(None)` for a keyword it does not know. Returns the span of
/// the block including braces.
pub fn block<'a>(
    cx: &Ctx,
    input: &'a str,
    what: &str,
    keywords: &[&str],
    mut statement: impl FnMut(&'a str, &Spanned<&'a str>, &'a str) -> PResult<'a, Option<()>>,
) -> PResult<'a, Span> {
    let Some(mut rest) = input.strip_prefix('{') else {
        return PError::expected(input, &format!("`{{` to open the {what}")).fail();
    };
    loop {
        rest = ws(cx, rest)?.0;
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((after, cx.span(input, after)));
        }
        if rest.is_empty() {
            return PError::at(
                input,
                1,
                &codes::UNTERMINATED_BLOCK,
                format!("unclosed {what}"),
                "this `{` is never closed",
            )
            .secondary(rest, 0, "the file ends here")
            .help("add the missing `}`")
            .fatal()
            .fail();
        }
        let start = rest;
        let Ok((after_keyword, keyword)) = word_ref(cx, rest) else {
            return unknown_statement(rest, what, keywords, None);
        };
        let after_ws = ws(cx, after_keyword)?.0;
        match statement(start, &keyword, after_ws)? {
            (after, Some(())) => rest = after,
            (_, None) => return unknown_statement(start, what, keywords, Some(keyword.node)),
        }
    }
}

fn unknown_statement<'a, T>(
    input: &'a str,
    what: &str,
    keywords: &[&str],
    keyword: Option<&str>,
) -> PResult<'a, T> {
    let found = match keyword {
        Some(k) => format!("unknown statement `{k}` in {what}"),
        None => format!("expected a statement or `}}` in {what}"),
    };
    let len = keyword
        .map(str::len)
        .unwrap_or_else(|| super::error::token_len(input));
    let mut error = PError::at(input, len, &codes::SYNTAX, found, "not allowed here");
    let suggestion = keyword.and_then(|k| closest(k, keywords.iter().copied()));
    error = match suggestion {
        Some(s) => error.help(format!("did you mean `{s}`?")),
        None => error.help(format!("a {what} accepts: {}", keywords.join(", "))),
    };
    error.fail()
}

/// Reports the first duplicate among statements that may appear once: `key` names a statement
/// (`None` for those that may repeat).
pub fn report_duplicates<S>(
    cx: &Ctx,
    statements: &[S],
    key: impl Fn(&S) -> Option<&'static str>,
    span: impl Fn(&S) -> Span,
) {
    let mut seen: Vec<(&'static str, Span)> = Vec::new();
    for statement in statements {
        if let Some(name) = key(statement) {
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                cx.report(
                    Diagnostic::error(&codes::DUPLICATE_SETTING, format!("`{name}` is set twice"))
                        .with_label(span(statement), "set again here")
                        .with_label(*first, "first set here")
                        .with_help(format!("keep one `{name}`")),
                );
            } else {
                seen.push((name, span(statement)));
            }
        }
    }
}

/// Reports a required setting that is missing, at the block's name.
pub fn report_missing(cx: &Ctx, at: Span, what: &str, setting: &str, help: &str) {
    cx.report(
        Diagnostic::error(
            &codes::MISSING_SETTING,
            format!("{what} has no `{setting}`"),
        )
        .with_label(at, format!("this {what} needs `{setting}`"))
        .with_help(help.to_string()),
    );
}
