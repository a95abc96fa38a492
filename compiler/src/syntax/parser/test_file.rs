//! The parser of `*.test.mesh` files: `test "name" { statement… }` blocks (see
//! [`crate::syntax::test_ast`]). It shares the lexical rules, block loop and error handling of
//! the program parser, so a test file reads, and fails, like any `.mesh` file.

use crate::diagnostics::suggest::closest;
use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Spanned};
use crate::syntax::test_ast::*;

use super::block::block;
use super::context::Ctx;
use super::error::{PError, PResult};
use super::lexical::{
    ident, ident_ref, integer, peek_word, string, symbol, word, wrong_word, ws, ws_inline,
};
use super::literals::{duration, percent, size, status};
use super::MAX_ERRORS_PER_FILE;

/// The statements of a test block.
pub const TEST_STATEMENTS: &[&str] = &[
    "request",
    "call",
    "record",
    "gateway",
    "header",
    "body",
    "body_size",
    "key",
    "from",
    "as",
    "at",
    "repeat",
    "faults",
    "expect",
];

/// What may follow `expect`.
pub const EXPECTATIONS: &[&str] = &[
    "status",
    "route",
    "allowed",
    "denied",
    "reason",
    "rule",
    "forward",
    "header",
    "no_header",
    "response_header",
    "body",
    "produce",
    "emit",
    "dead_letter",
    "deliver",
    "filtered",
    "fault",
    "no_fault",
    "mirror",
    "no_mirror",
];

/// Parses one test file. Always returns the tests that parsed and every error found.
pub fn parse_test_file(file: FileId, text: &str) -> (TestFile, Vec<Diagnostic>) {
    let cx = Ctx::new(file, text);
    let mut tests = Vec::new();
    let mut errors = Vec::new();
    let mut input = text;
    loop {
        if errors.len() + cx.reported() >= MAX_ERRORS_PER_FILE {
            break;
        }
        let step = ws(&cx, input).and_then(|(rest, _)| {
            if rest.is_empty() {
                Ok((rest, None))
            } else {
                test_case(&cx, rest).map(|(after, test)| (after, Some(test)))
            }
        });
        match step {
            Ok((_, None)) => break,
            Ok((rest, Some(test))) => {
                tests.push(test);
                input = rest;
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                errors.push(cx.to_diagnostic(&e));
                if e.fatal {
                    break;
                }
                let at = text.len() - e.remaining.min(text.len());
                match next_test(text, at) {
                    Some(next) => input = &text[next..],
                    None => break,
                }
            }
            Err(nom::Err::Incomplete(_)) => break,
        }
    }
    let (comments, mut diagnostics) = cx.finish();
    diagnostics.extend(errors);
    (TestFile { tests, comments }, diagnostics)
}

/// The offset of the next line after `at` that starts with `test`.
fn next_test(text: &str, at: usize) -> Option<usize> {
    let mut line_start = text[at..].find('\n').map(|i| at + i + 1)?;
    loop {
        let line = &text[line_start..];
        let trimmed = line.trim_start_matches([' ', '\t', '\r']);
        if peek_word(trimmed) == Some("test") {
            return Some(text.len() - trimmed.len());
        }
        line_start += line.find('\n')? + 1;
    }
}

fn test_case<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, TestCase> {
    let keyword = word(cx, input).ok();
    if keyword.as_ref().map(|(_, k)| k.node.as_str()) != Some("test") {
        let mut error = PError::expected(input, "`test \"name\" { … }`");
        error = match keyword
            .as_ref()
            .and_then(|(_, k)| closest(&k.node, ["test"]))
        {
            Some(_) => error.help("did you mean `test`?"),
            None => error.help(
                "a .test.mesh file holds `test \"name\" { … }` blocks; the program itself goes in other .mesh files",
            ),
        };
        return error.fail();
    }
    let (rest, _) = ws(cx, &input[4..])?;
    let (rest, name) = string(cx, rest, "the test's name in quotes")?;
    let (rest, _) = ws(cx, rest)?;
    let mut statements = Vec::new();
    let (rest, _) = block(cx, rest, "test", TEST_STATEMENTS, |start, kw, input| {
        let (rest, statement) = match kw.node {
            "request" => {
                let (r, method) = word(cx, input).map_err(|_| {
                    nom::Err::Failure(PError::expected(input, "an HTTP method such as GET"))
                })?;
                let (r, _) = ws_inline(cx, r)?;
                let (r, url) = string(cx, r, "the URL or path in quotes")?;
                let span = cx.span(start, r);
                (r, TestStatement::Request { method, url, span })
            }
            "call" => {
                let by_identity = input.starts_with('"');
                let (r, source) = if by_identity {
                    string(cx, input, "the caller's identity in quotes")?
                } else {
                    ident(cx, input, "the calling gateway or service")?
                };
                let (r, _) = ws_inline(cx, r)?;
                let (r, _) = symbol(r, "->")?;
                let (r, _) = ws_inline(cx, r)?;
                let (r, destination) = ident(cx, r, "the called service")?;
                let span = cx.span(start, r);
                (
                    r,
                    TestStatement::Call {
                        source,
                        by_identity,
                        destination,
                        span,
                    },
                )
            }
            "record" => {
                let (r, topic) = string(cx, input, "the topic in quotes")?;
                let span = cx.span(start, r);
                (r, TestStatement::Record { topic, span })
            }
            "gateway" => {
                let (r, name) = ident(cx, input, "a gateway name")?;
                (r, TestStatement::Gateway(name))
            }
            "header" => {
                let (r, name) = string(cx, input, "the header name in quotes")?;
                let (r, _) = ws_inline(cx, r)?;
                let (r, value) = string(cx, r, "the header value in quotes")?;
                let span = cx.span(start, r);
                (r, TestStatement::Header { name, value, span })
            }
            "body" => {
                let (r, text) = string(cx, input, "the body in quotes")?;
                (r, TestStatement::Body(text))
            }
            "body_size" => {
                let (r, bytes) = size(cx, input)?;
                (r, TestStatement::BodySize(bytes))
            }
            "key" => {
                let (r, text) = string(cx, input, "the record key in quotes")?;
                (r, TestStatement::Key(text))
            }
            "from" => {
                let (r, text) = string(cx, input, "the client address in quotes")?;
                (r, TestStatement::From(text))
            }
            "at" => {
                let (r, text) = string(
                    cx,
                    input,
                    "a time in quotes, such as \"2025-03-01T12:00:00Z\"",
                )?;
                (r, TestStatement::At(text))
            }
            "as" => {
                let (r, consumer) = ident(cx, input, "a consumer name")?;
                let (after_ws, _) = ws_inline(cx, r)?;
                let (r, claims) = if peek_word(after_ws) == Some("claims") {
                    let (r, _) = ws_inline(cx, &after_ws["claims".len()..])?;
                    let (r, claims) = string(cx, r, "the claims as a JSON object in quotes")?;
                    (r, Some(claims))
                } else {
                    (r, None)
                };
                let span = cx.span(start, r);
                (
                    r,
                    TestStatement::As {
                        consumer,
                        claims,
                        span,
                    },
                )
            }
            "repeat" => {
                let (r, count) = integer(cx, input, "how many times to send")?;
                let (after_ws, _) = ws_inline(cx, r)?;
                let (r, every) = if peek_word(after_ws) == Some("every") {
                    let (r, _) = ws_inline(cx, &after_ws["every".len()..])?;
                    let (r, every) = duration(cx, r)?;
                    (r, Some(every))
                } else {
                    (r, None)
                };
                let span = cx.span(start, r);
                (r, TestStatement::Repeat { count, every, span })
            }
            "faults" => {
                let (r, w) = ident_ref(cx, input, "`forced` or `never`")?;
                let mode = match w.node {
                    "forced" => FaultMode::Forced,
                    "never" => FaultMode::Never,
                    _ => return wrong_word(cx, &w, "`forced` or `never`", &["forced", "never"]),
                };
                (r, TestStatement::Faults(Spanned::new(mode, w.span)))
            }
            "expect" => {
                let (r, kind) = expectation(cx, input)?;
                let span = cx.span(start, r);
                (r, TestStatement::Expect(Expectation { kind, span }))
            }
            _ => return Ok((input, None)),
        };
        statements.push(statement);
        Ok((rest, Some(())))
    })?;
    let span = cx.span(input, rest);
    Ok((
        rest,
        TestCase {
            name,
            statements,
            span,
        },
    ))
}

/// An optional `WORD "TEXT"` option after an expectation (`key "…"`, `reason "…"`).
fn option<'a>(cx: &Ctx, input: &'a str, name: &str) -> PResult<'a, Option<Spanned<String>>> {
    let (after_ws, _) = ws_inline(cx, input)?;
    if peek_word(after_ws) != Some(name) {
        return Ok((input, None));
    }
    let (r, _) = ws_inline(cx, &after_ws[name.len()..])?;
    let (r, text) = string(cx, r, &format!("the {name} in quotes"))?;
    Ok((r, Some(text)))
}

fn expectation<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, ExpectKind> {
    let (rest, what) = ident_ref(cx, input, "what to expect (status, route, denied, …)")?;
    let (after, _) = ws_inline(cx, rest)?;
    match what.node {
        "status" => {
            let (r, code) = status(cx, after)?;
            Ok((r, ExpectKind::Status(code)))
        }
        "route" => {
            let (r, name) = ident(cx, after, "a route name")?;
            Ok((r, ExpectKind::Route(name)))
        }
        "allowed" => Ok((rest, ExpectKind::Allowed)),
        "denied" => {
            let Some(word) = peek_word(after) else {
                return Ok((rest, ExpectKind::Denied(None)));
            };
            let (r, step) = ident_ref(cx, after, "an admission step")?;
            let names: Vec<&str> = DenialStep::ALL.iter().map(|(_, n)| *n).collect();
            let Some((found, _)) = DenialStep::ALL.iter().find(|(_, n)| *n == word) else {
                return wrong_word(cx, &step, "an admission step or `mesh`", &names);
            };
            Ok((r, ExpectKind::Denied(Some(Spanned::new(*found, step.span)))))
        }
        "reason" => {
            let (r, text) = string(cx, after, "part of the reason in quotes")?;
            Ok((r, ExpectKind::Reason(text)))
        }
        "rule" => {
            let (r, text) = string(cx, after, "the rule's place as \"file.mesh:LINE\"")?;
            Ok((r, ExpectKind::Rule(text)))
        }
        "forward" => {
            let mut targets = Vec::new();
            let mut rest = after;
            loop {
                let (r, service) = ident(cx, rest, "a service name")?;
                let (after_ws, _) = ws_inline(cx, r)?;
                let (r, weight) = if after_ws.starts_with(|c: char| c.is_ascii_digit()) {
                    let (r, p) = percent(cx, after_ws)?;
                    (r, Some(p))
                } else {
                    (r, None)
                };
                targets.push(ExpectedTarget { service, weight });
                let (after_ws, _) = ws_inline(cx, r)?;
                match after_ws.strip_prefix(',') {
                    Some(after_comma) => rest = ws(cx, after_comma)?.0,
                    None => return Ok((r, ExpectKind::Forward(targets))),
                }
            }
        }
        "header" | "response_header" => {
            let (r, name) = string(cx, after, "the header name in quotes")?;
            let (r, _) = ws_inline(cx, r)?;
            let (r, value) = string(cx, r, "the header value in quotes")?;
            let kind = if what.node == "header" {
                ExpectKind::Header { name, value }
            } else {
                ExpectKind::ResponseHeader { name, value }
            };
            Ok((r, kind))
        }
        "no_header" => {
            let (r, name) = string(cx, after, "the header name in quotes")?;
            Ok((r, ExpectKind::NoHeader(name)))
        }
        "body" => {
            let (r, text) = string(cx, after, "the body in quotes")?;
            Ok((r, ExpectKind::Body(text)))
        }
        "produce" => {
            let (r, topic) = string(cx, after, "the topic in quotes")?;
            let (r, key) = option(cx, r, "key")?;
            Ok((r, ExpectKind::Produce { topic, key }))
        }
        "emit" => {
            let (r, topic) = string(cx, after, "the topic in quotes")?;
            let (r, key) = option(cx, r, "key")?;
            let (r, value) = option(cx, r, "value")?;
            Ok((r, ExpectKind::Emit { topic, key, value }))
        }
        "dead_letter" => {
            let (r, topic) = string(cx, after, "the dead-letter topic in quotes")?;
            let (r, reason) = option(cx, r, "reason")?;
            Ok((r, ExpectKind::DeadLetter { topic, reason }))
        }
        "deliver" => {
            let (r, service) = ident(cx, after, "a service name")?;
            Ok((r, ExpectKind::Deliver(service)))
        }
        "filtered" => match peek_word(after) {
            Some(_) => {
                let (r, stream) = ident(cx, after, "a stream name")?;
                Ok((r, ExpectKind::Filtered(Some(stream))))
            }
            None => Ok((rest, ExpectKind::Filtered(None))),
        },
        "fault" => {
            let (r, which) = ident_ref(cx, after, "`abort` or `delay`")?;
            let (after_ws, _) = ws_inline(cx, r)?;
            let written = after_ws.starts_with(|c: char| c.is_ascii_digit());
            match which.node {
                "abort" if written => {
                    let (r, code) = status(cx, after_ws)?;
                    Ok((r, ExpectKind::Fault(ExpectedFault::Abort(Some(code)))))
                }
                "abort" => Ok((r, ExpectKind::Fault(ExpectedFault::Abort(None)))),
                "delay" if written => {
                    let (r, d) = duration(cx, after_ws)?;
                    Ok((r, ExpectKind::Fault(ExpectedFault::Delay(Some(d)))))
                }
                "delay" => Ok((r, ExpectKind::Fault(ExpectedFault::Delay(None)))),
                _ => wrong_word(cx, &which, "`abort` or `delay`", &["abort", "delay"]),
            }
        }
        "no_fault" => Ok((rest, ExpectKind::NoFault)),
        "mirror" => {
            let (r, service) = ident(cx, after, "the mirror's service")?;
            Ok((r, ExpectKind::Mirror(service)))
        }
        "no_mirror" => Ok((rest, ExpectKind::NoMirror)),
        _ => wrong_word(cx, &what, "an expectation", EXPECTATIONS),
    }
}
