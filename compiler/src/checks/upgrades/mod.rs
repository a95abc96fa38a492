//! Checks on upgraded connections (WebSocket): a route's `websocket` line. Codes E0260–E0264 /
//! W0260–W0264. One file per rule.

pub mod websocket_settings;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

crate::diagnostics::codes::codes! {
    /// A `websocket { max 0 }` route can never open an upgraded connection.
    WEBSOCKET_NO_ROOM = "E0260", "websocket cap of zero",
        "A route's `websocket` block says `max 0`: every upgrade request would be answered 503 as if the route were full, which reads like an outage rather than a decision. Refusing upgrades is a statement of its own.",
        "Write `websocket off` to refuse upgrades (403), or give the route room (`max 1000`).",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route chat { match GET \"/chat\" public websocket { max 0 } forward chat }\n}\nservice chat { endpoints [\"127.0.0.1:9101\"] }";
    /// A `websocket { idle 0s }` route closes every tunnel at once.
    WEBSOCKET_NO_IDLE = "E0261", "websocket idle timeout of zero",
        "A route's `websocket` block says `idle 0s`: a tunnel with no byte in flight would be closed at once, so a WebSocket that waits for its first message never gets it.",
        "Give the idle timeout a length (`idle 5m`, the default), or leave the setting out.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route chat { match GET \"/chat\" public websocket { idle 0s } forward chat }\n}\nservice chat { endpoints [\"127.0.0.1:9101\"] }";
    /// A `websocket` line on a route that answers itself or produces.
    WEBSOCKET_WITHOUT_FORWARD = "W0260", "websocket without forward",
        "A route has a `websocket` line but answers itself (`respond`) or produces to Kafka (`produce`). Only forwarded requests are upgraded, so the line changes nothing, although it reads as if the route served WebSockets.",
        "Remove the line, or move it to the route that forwards to the WebSocket service.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route r { match GET \"/\" public websocket { max 10 } respond 200 \"ok\" }\n}";
}

/// Every check on upgraded connections.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    websocket_settings::check(program)
}
