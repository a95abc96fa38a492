//! `stream NAME { from … when … to … deliver … dead_letter … }` and `topic "NAME" …`.

use crate::diagnostics::codes;
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::*;

use super::block::{block, report_duplicates, report_missing};
use super::cel::cel;
use super::context::Ctx;
use super::error::PResult;
use super::lexical::{ident, integer, keyword, peek_word, string, symbol, ws, ws_inline};
use super::literals::duration;

const STREAM_STATEMENTS: &[&str] = &["from", "when", "to", "deliver", "dead_letter"];

/// The rest of a stream after its keyword; `start` is the keyword.
pub fn stream<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Stream> {
    let (rest, name) = ident(cx, input, "the stream's name")?;
    let (rest, _) = ws(cx, rest)?;
    let mut statements = Vec::new();
    let (rest, _) = block(cx, rest, "stream", STREAM_STATEMENTS, |start, kw, input| {
        let (rest, statement) = match kw.node {
            "from" => {
                let (r, _) = keyword(input, "topic")?;
                let (r, _) = ws(cx, r)?;
                let (mut rest, topic) = string(cx, r, "the source topic in quotes")?;
                let mut group = None;
                let (after_ws, _) = ws_inline(cx, rest)?;
                if peek_word(after_ws) == Some("group") {
                    let (r, _) = ws(cx, &after_ws[5..])?;
                    let (r, g) = string(cx, r, "the consumer group in quotes")?;
                    group = Some(g);
                    rest = r;
                }
                (
                    rest,
                    StreamStatement::From {
                        topic,
                        group,
                        span: cx.span(start, rest),
                    },
                )
            }
            "when" => {
                let (r, condition) = cel(cx, input, "a CEL condition")?;
                (r, StreamStatement::When(condition))
            }
            "to" => {
                let (r, _) = keyword(input, "topic")?;
                let (r, _) = ws(cx, r)?;
                let (mut rest, topic) = string(cx, r, "the target topic in quotes")?;
                let mut key = None;
                let mut value = None;
                let mut exactly_once = false;
                loop {
                    let (after_ws, _) = ws_inline(cx, rest)?;
                    match peek_word(after_ws) {
                        Some("exactly_once") => {
                            exactly_once = true;
                            rest = &after_ws["exactly_once".len()..];
                        }
                        Some(option @ ("key" | "value")) => {
                            let (r, _) = ws(cx, &after_ws[option.len()..])?;
                            let (r, expression) = cel(cx, r, "a CEL expression")?;
                            if option == "key" {
                                key = Some(expression);
                            } else {
                                value = Some(expression);
                            }
                            rest = r;
                        }
                        _ => break,
                    }
                }
                (
                    rest,
                    StreamStatement::To {
                        topic,
                        key,
                        value,
                        exactly_once,
                        span: cx.span(start, rest),
                    },
                )
            }
            "deliver" => {
                let (r, d) = deliver(cx, start, input)?;
                (r, StreamStatement::Deliver(d))
            }
            "dead_letter" => {
                let (r, topic) = string(cx, input, "the dead-letter topic in quotes")?;
                (r, StreamStatement::DeadLetter(topic))
            }
            _ => return Ok((input, None)),
        };
        statements.push(statement);
        Ok((rest, Some(())))
    })?;
    check_stream(cx, &name, &statements);
    Ok((
        rest,
        Stream {
            name,
            statements,
            span: cx.span(start, rest),
        },
    ))
}

fn check_stream(cx: &Ctx, name: &Ident, statements: &[StreamStatement]) {
    report_duplicates(
        cx,
        statements,
        |s| {
            Some(match s {
                StreamStatement::From { .. } => "from",
                StreamStatement::When(_) => "when",
                StreamStatement::To { .. } => "to",
                StreamStatement::Deliver(_) => "deliver",
                StreamStatement::DeadLetter(_) => "dead_letter",
            })
        },
        StreamStatement::span,
    );
    if !statements
        .iter()
        .any(|s| matches!(s, StreamStatement::From { .. }))
    {
        report_missing(
            cx,
            name.span,
            "stream",
            "from",
            "add `from topic \"NAME\" group \"GROUP\"`",
        );
    }
    let to = statements
        .iter()
        .find(|s| matches!(s, StreamStatement::To { .. }));
    let deliver = statements
        .iter()
        .find(|s| matches!(s, StreamStatement::Deliver(_)));
    match (to, deliver) {
        (None, None) => report_missing(
            cx,
            name.span,
            "stream",
            "to` or `deliver",
            "say where matching records go: `to topic \"T\"` or `deliver SERVICE`",
        ),
        (Some(to), Some(deliver)) => cx.report(
            Diagnostic::error(
                &codes::CONFLICTING_ACTIONS,
                format!("stream `{}` has both `to` and `deliver`", name.node),
            )
            .with_label(deliver.span(), "second action")
            .with_label(to.span(), "first action")
            .with_help(
                "a stream writes to a topic or delivers to a service; split it into two streams",
            ),
        ),
        _ => {}
    }
}

fn deliver<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Deliver> {
    let (mut rest, service) = ident(cx, input, "a service name")?;
    let mut deliver = Deliver {
        service,
        path: None,
        concurrency: None,
        retry: None,
        backoff: None,
        span: cx.span(start, rest),
    };
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        let Some(option) = peek_word(after_ws) else {
            break;
        };
        if !matches!(option, "path" | "concurrency" | "retry" | "backoff") {
            break;
        }
        let (r, _) = ws(cx, &after_ws[option.len()..])?;
        rest = match option {
            "path" => {
                let (r, p) = string(cx, r, "a path in quotes")?;
                deliver.path = Some(p);
                r
            }
            "concurrency" => {
                let (r, n) = integer(cx, r, "a number of concurrent deliveries")?;
                deliver.concurrency = Some(n);
                r
            }
            "retry" => {
                let (r, n) = integer(cx, r, "a number of retries")?;
                deliver.retry = Some(n);
                r
            }
            _ => {
                let (r, min) = duration(cx, r)?;
                let (r, _) = symbol(r, "..")?;
                let (r, max) = duration(cx, r)?;
                deliver.backoff = Some(Backoff { min, max });
                r
            }
        };
    }
    deliver.span = cx.span(start, rest);
    Ok((rest, deliver))
}

/// The rest of a topic declaration after its keyword; `start` is the keyword.
pub fn topic<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Topic> {
    let (mut rest, name) = string(cx, input, "the topic name in quotes")?;
    let mut topic = Topic {
        name,
        external: false,
        partitions: None,
        span: cx.span(start, rest),
    };
    let (after_ws, _) = ws_inline(cx, rest)?;
    if peek_word(after_ws) == Some("external") {
        topic.external = true;
        rest = &after_ws[8..];
    }
    let (after_ws, _) = ws_inline(cx, rest)?;
    if after_ws.starts_with('{') {
        let (r, _) = block(
            cx,
            after_ws,
            "topic",
            &["partitions", "external"],
            |start, kw, input| match kw.node {
                "partitions" => {
                    let (r, n) = integer(cx, input, "a number of partitions")?;
                    topic.partitions = Some(n);
                    Ok((r, Some(())))
                }
                "external" => {
                    topic.external = true;
                    Ok((&start[8..], Some(())))
                }
                _ => Ok((input, None)),
            },
        )?;
        rest = r;
    }
    topic.span = cx.span(start, rest);
    Ok((rest, topic))
}
