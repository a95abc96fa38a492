//! A route's traffic-management lines: `fault abort PERCENT STATUS [when CEL]`,
//! `fault delay PERCENT DURATION [when CEL]`, `mirror SERVICE [P%] [max_body SIZE] [queue N]` and
//! `websocket off` / `websocket { max N  idle DURATION }`.

use crate::syntax::ast::*;

use super::block::block;
use super::cel::cel;
use super::context::Ctx;
use super::error::PResult;
use super::lexical::{ident, ident_ref, integer, peek_word, wrong_word, ws, ws_inline};
use super::literals::{duration, percent, size, status};

/// The rest of a `fault` line after its keyword; `start` is the keyword.
pub(super) fn fault<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Fault> {
    let (rest, which) = ident_ref(cx, input, "`abort` or `delay`")?;
    if !matches!(which.node, "abort" | "delay") {
        return wrong_word(cx, &which, "`abort` or `delay`", &["abort", "delay"]);
    }
    let (rest, _) = ws(cx, rest)?;
    let (rest, share) = percent(cx, rest)?;
    let (rest, _) = ws(cx, rest)?;
    let (mut rest, kind) = if which.node == "abort" {
        let (r, code) = status(cx, rest)?;
        (r, FaultKind::Abort(code))
    } else {
        let (r, d) = duration(cx, rest)?;
        (r, FaultKind::Delay(d))
    };
    let mut when = None;
    let (after_ws, _) = ws_inline(cx, rest)?;
    if peek_word(after_ws) == Some("when") {
        let (r, _) = ws(cx, &after_ws[4..])?;
        let (r, condition) = cel(cx, r, "a CEL condition")?;
        when = Some(condition);
        rest = r;
    }
    Ok((
        rest,
        Fault {
            kind,
            percent: share,
            when,
            span: cx.span(start, rest),
        },
    ))
}

/// The rest of a `mirror` line after its keyword; `start` is the keyword.
pub(super) fn mirror<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Mirror> {
    let (mut rest, service) = ident(cx, input, "the service that gets the copies")?;
    let mut share = None;
    let (after_ws, _) = ws_inline(cx, rest)?;
    if after_ws.starts_with(|c: char| c.is_ascii_digit()) {
        let (r, p) = percent(cx, after_ws)?;
        share = Some(p);
        rest = r;
    }
    let mut max_body = None;
    let mut queue = None;
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        match peek_word(after_ws) {
            Some("max_body") => {
                let (r, _) = ws(cx, &after_ws["max_body".len()..])?;
                let (r, s) = size(cx, r)?;
                max_body = Some(s);
                rest = r;
            }
            Some("queue") => {
                let (r, _) = ws(cx, &after_ws["queue".len()..])?;
                let (r, n) = integer(cx, r, "how many copies may be in flight")?;
                queue = Some(n);
                rest = r;
            }
            _ => break,
        }
    }
    Ok((
        rest,
        Mirror {
            service,
            percent: share,
            max_body,
            queue,
            span: cx.span(start, rest),
        },
    ))
}

/// The rest of a `websocket` line after its keyword: `off`, or a block with `max N` and
/// `idle DURATION`; `start` is the keyword.
pub(super) fn websocket<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, WebSocket> {
    let mut websocket = WebSocket {
        allowed: true,
        max: None,
        idle: None,
        span: cx.span(start, input),
    };
    if !input.starts_with('{') {
        let (rest, word) = ident_ref(cx, input, "`off` or `{ max N  idle DURATION }`")?;
        if word.node != "off" {
            return wrong_word(cx, &word, "`off` or `{ max N  idle DURATION }`", &["off"]);
        }
        websocket.allowed = false;
        websocket.span = cx.span(start, rest);
        return Ok((rest, websocket));
    }
    let keywords = ["max", "idle"];
    let (rest, _) = block(cx, input, "websocket block", &keywords, |_, kw, input| {
        let rest = match kw.node {
            "max" => {
                let (r, n) = integer(
                    cx,
                    input,
                    "how many upgraded connections may be open at once",
                )?;
                websocket.max = Some(n);
                r
            }
            "idle" => {
                let (r, d) = duration(cx, input)?;
                websocket.idle = Some(d);
                r
            }
            _ => return Ok((input, None)),
        };
        Ok((rest, Some(())))
    })?;
    websocket.span = cx.span(start, rest);
    Ok((rest, websocket))
}
