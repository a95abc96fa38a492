//! A route's action: `forward` (services, weights, rewrites), `produce` (topic, key, value, acks,
//! mode) or `respond`.

use crate::diagnostics::codes;
use crate::source::Spanned;
use crate::syntax::ast::*;

use super::cel::cel;
use super::context::Ctx;
use super::error::{PError, PResult};
use super::lexical::{
    ident, ident_ref, keyword, peek_word, string, word_ref, wrong_word, ws, ws_inline,
};
use super::literals::{percent, status, string_list};

pub(super) fn forward<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Forward> {
    let mut targets = Vec::new();
    let mut rest = input;
    loop {
        let (r, service) = ident(cx, rest, "a service name")?;
        let (after_ws, _) = ws_inline(cx, r)?;
        let (r, weight) = if after_ws.starts_with(|c: char| c.is_ascii_digit()) {
            let (r, p) = percent(cx, after_ws)?;
            (r, Some(p))
        } else {
            (r, None)
        };
        targets.push(ForwardTarget { service, weight });
        let (after_ws, _) = ws_inline(cx, r)?;
        if let Some(after_comma) = after_ws.strip_prefix(',') {
            rest = ws(cx, after_comma)?.0;
        } else {
            rest = r;
            break;
        }
    }
    let mut strip_prefix = None;
    let mut rewrite = None;
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        match peek_word(after_ws) {
            Some(option @ ("strip_prefix" | "rewrite")) => {
                let (r, _) = ws(cx, &after_ws[option.len()..])?;
                let (r, value) = string(cx, r, "a path in quotes")?;
                if option == "rewrite" {
                    rewrite = Some(value);
                } else {
                    strip_prefix = Some(value);
                }
                rest = r;
            }
            _ => break,
        }
    }
    Ok((
        rest,
        Forward {
            targets,
            strip_prefix,
            rewrite,
            span: cx.span(start, rest),
        },
    ))
}

pub(super) fn produce<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Produce> {
    let (r, _) = keyword(input, "topic")?;
    let (r, _) = ws(cx, r)?;
    let (mut rest, topic) = if peek_word(r) == Some("param") {
        let (r, _) = ws(cx, &r[5..])?;
        let (r, param) = string(cx, r, "the path parameter's name in quotes")?;
        let (after_ws, _) = ws_inline(cx, r)?;
        if peek_word(after_ws) == Some("allow") {
            let (r, _) = ws(cx, &after_ws[5..])?;
            let (r, list) = string_list(cx, r, "topic names in quotes")?;
            (
                r,
                TopicRef::Param {
                    param,
                    allow: Some(list.node),
                },
            )
        } else {
            (r, TopicRef::Param { param, allow: None })
        }
    } else {
        let (r, name) = string(cx, r, "a topic name in quotes (or `param \"name\"`)")?;
        (r, TopicRef::Fixed(name))
    };
    let mut produce = Produce {
        topic,
        key: None,
        value: None,
        headers: vec![],
        acks: None,
        mode: None,
        span: cx.span(start, rest),
    };
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        let Some(option) = peek_word(after_ws) else {
            break;
        };
        if !matches!(option, "key" | "value" | "headers" | "acks" | "mode") {
            break;
        }
        let (r, _) = ws(cx, &after_ws[option.len()..])?;
        rest = match option {
            "key" => {
                let (r, key) = cel(cx, r, "a CEL key expression")?;
                produce.key = Some(key);
                r
            }
            "value" => {
                let (r, w) = ident_ref(cx, r, "`raw` or `envelope`")?;
                let format = match w.node {
                    "raw" => ValueFormat::Raw,
                    "envelope" => ValueFormat::Envelope,
                    _ => return wrong_word(cx, &w, "`raw` or `envelope`", &["raw", "envelope"]),
                };
                produce.value = Some(Spanned::new(format, w.span));
                r
            }
            "headers" => {
                let (r, list) = string_list(cx, r, "header names in quotes")?;
                produce.headers = list.node;
                r
            }
            "acks" => {
                let (r, acks) = acks(cx, r)?;
                produce.acks = Some(acks);
                r
            }
            _ => {
                let (r, w) = ident_ref(cx, r, "`sync` or `async`")?;
                let mode = match w.node {
                    "sync" => ProduceMode::Sync,
                    "async" => ProduceMode::Async,
                    _ => return wrong_word(cx, &w, "`sync` or `async`", &["sync", "async"]),
                };
                produce.mode = Some(Spanned::new(mode, w.span));
                r
            }
        };
    }
    produce.span = cx.span(start, rest);
    Ok((rest, produce))
}

fn acks<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<Acks>> {
    if let Ok((r, w)) = word_ref(cx, input) {
        if w.node == "all" {
            return Ok((r, Spanned::new(Acks::All, w.span)));
        }
    }
    let (r, n) = super::lexical::integer(cx, input, "`0`, `1` or `all`")?;
    let acks = match n.node {
        0 => Acks::None,
        1 => Acks::Leader,
        other => {
            return PError::at(
                input,
                n.span.len(),
                &codes::NUMBER_OUT_OF_RANGE,
                format!("acks {other} is not a Kafka acknowledgement level"),
                "expected 0, 1 or all",
            )
            .help("acks is 0 (fire and forget), 1 (leader) or all (every in-sync replica)")
            .fail()
        }
    };
    Ok((r, Spanned::new(acks, n.span)))
}

pub(super) fn respond<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Respond> {
    let (mut rest, code) = status(cx, input)?;
    let mut body = None;
    let mut content_type = None;
    let (after_ws, _) = ws_inline(cx, rest)?;
    if after_ws.starts_with('"') {
        let (r, b) = string(cx, after_ws, "the response body in quotes")?;
        body = Some(b);
        rest = r;
    }
    let (after_ws, _) = ws_inline(cx, rest)?;
    if peek_word(after_ws) == Some("content_type") {
        let (r, _) = ws(cx, &after_ws[12..])?;
        let (r, t) = string(cx, r, "a content type in quotes")?;
        content_type = Some(t);
        rest = r;
    }
    Ok((
        rest,
        Respond {
            status: code,
            body,
            content_type,
            span: cx.span(start, rest),
        },
    ))
}
