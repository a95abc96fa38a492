//! A route's `fault` lines: `fault abort PERCENT STATUS [when CEL]` and
//! `fault delay PERCENT DURATION [when CEL]`.

use crate::syntax::ast::*;

use super::cel::cel;
use super::context::Ctx;
use super::error::PResult;
use super::lexical::{ident_ref, peek_word, wrong_word, ws, ws_inline};
use super::literals::{duration, percent, status};

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
