//! A route's `serve` action: `serve topic "T" [buffer N] [buffer_size SIZE] [clients N]
//! [keepalive DURATION] [when CEL]`. The condition comes last: a CEL expression runs to the end
//! of its line.

use crate::syntax::ast::*;

use super::cel::cel;
use super::context::Ctx;
use super::error::PResult;
use super::lexical::{integer, keyword, peek_word, string, ws, ws_inline};
use super::literals::{duration, size};

/// The rest of a `serve` line after its keyword; `start` is the keyword.
pub(super) fn serve<'a>(cx: &Ctx, start: &'a str, input: &'a str) -> PResult<'a, Serve> {
    let (r, _) = keyword(input, "topic")?;
    let (r, _) = ws(cx, r)?;
    let (mut rest, topic) = string(cx, r, "a topic name in quotes")?;
    let mut serve = Serve {
        topic,
        buffer: None,
        buffer_size: None,
        clients: None,
        keepalive: None,
        when: None,
        span: cx.span(start, rest),
    };
    loop {
        let (after_ws, _) = ws_inline(cx, rest)?;
        let Some(option) = peek_word(after_ws) else {
            break;
        };
        if !matches!(
            option,
            "buffer" | "buffer_size" | "clients" | "keepalive" | "when"
        ) {
            break;
        }
        let (r, _) = ws(cx, &after_ws[option.len()..])?;
        rest = match option {
            "buffer" => {
                let (r, n) = integer(cx, r, "how many events may wait for one client")?;
                serve.buffer = Some(n);
                r
            }
            "buffer_size" => {
                let (r, s) = size(cx, r)?;
                serve.buffer_size = Some(s);
                r
            }
            "clients" => {
                let (r, n) = integer(cx, r, "how many clients are served at once")?;
                serve.clients = Some(n);
                r
            }
            "keepalive" => {
                let (r, d) = duration(cx, r)?;
                serve.keepalive = Some(d);
                r
            }
            _ => {
                let (r, condition) = cel(cx, r, "a CEL condition over `event`")?;
                serve.when = Some(condition);
                r
            }
        };
    }
    serve.span = cx.span(start, rest);
    Ok((rest, serve))
}
