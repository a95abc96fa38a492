//! `websocket` lines that cannot do what they say (E0260, E0261, W0260).
//!
//! *What*: `websocket { max 0 }` (E0260: no upgrade could ever open), `websocket { idle 0s }`
//! (E0261: every tunnel would close at once), a `websocket` line on a route that does not
//! `forward` (W0260: only forwarded requests are upgraded).
//! *Why*: a cap of zero answers 503 as if the route were full and an idle timeout of zero closes
//! a WebSocket before its first message, both outages that read like settings; `websocket off` says
//! the refusal plainly (403). On a `respond` or `produce` route the line does nothing.
//! *Example*: `route chat { match GET "/chat" public websocket { max 0 } forward chat }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::{WEBSOCKET_NO_IDLE, WEBSOCKET_NO_ROOM, WEBSOCKET_WITHOUT_FORWARD};

/// Every `websocket` line that cannot do its job.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(websocket) = route.websocket() else {
            continue;
        };
        let name = &route.name.node;
        if route.forward().is_none() {
            out.push(
                Diagnostic::warning(
                    &WEBSOCKET_WITHOUT_FORWARD,
                    format!("route `{name}` has a `websocket` line but does not forward"),
                )
                .with_label(websocket.span, "only forwarded requests are upgraded")
                .with_help("remove the line, or move it to the route that forwards to the WebSocket service"),
            );
        }
        if let Some(max) = websocket.max.as_ref().filter(|m| m.node == 0) {
            out.push(
                Diagnostic::error(
                    &WEBSOCKET_NO_ROOM,
                    format!("route `{name}` allows no upgraded connection (`max 0`)"),
                )
                .with_label(max.span, "every upgrade would get 503")
                .with_help("write `websocket off` to refuse upgrades (403), or give the route room (`max 1000`)"),
            );
        }
        if let Some(idle) = websocket.idle.as_ref().filter(|d| d.node.millis == 0) {
            out.push(
                Diagnostic::error(
                    &WEBSOCKET_NO_IDLE,
                    format!("route `{name}` closes upgraded connections at once (`idle 0s`)"),
                )
                .with_label(
                    idle.span,
                    "a tunnel waiting for its first message would be closed",
                )
                .with_help(
                    "give the idle timeout a length (`idle 5m`, the default), or leave it out",
                ),
            );
        }
    }
    out
}
