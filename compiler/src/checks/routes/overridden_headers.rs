//! A header rule on a header meshd writes itself (W0215).
//!
//! *What*: `set_header`, `remove_header`, `set_response_header` or `remove_response_header` on
//! a framing or hop-by-hop header: `Content-Length`, `Transfer-Encoding`, `Connection`,
//! `Keep-Alive`, `TE`, `Trailer`, `Upgrade`, `Proxy-Connection`, `Proxy-Authenticate`,
//! `Proxy-Authorization`, and on requests `Expect`.
//! *Why*: these headers describe one connection, not the message (RFC 9110 §7.6.1). meshd drops
//! them from what it forwards and writes the framing from the body it actually sends; a rule on
//! them never takes effect. Were it to, a `Content-Length` or `Transfer-Encoding` that disagrees
//! with the body is the request-smuggling desync (CWE-444) that proxies exist to prevent.
//! *Example*: `set_header "transfer-encoding" "chunked"`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::HEADER_RULE_OVERRIDDEN;

/// The headers meshd writes itself, lower-case.
const CONNECTION_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Every header rule on a connection header.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        for statement in &route.statements {
            let ast::RouteStatement::Header(rule) = statement else {
                continue;
            };
            let name = rule.name.node.to_ascii_lowercase();
            let request = rule.direction == ast::HeaderDirection::Request;
            if !(CONNECTION_HEADERS.contains(&name.as_str()) || (request && name == "expect")) {
                continue;
            }
            let (verb, towards) = match (rule.value.is_some(), request) {
                (true, true) => ("setting", "the upstream"),
                (true, false) => ("setting", "the client"),
                (false, true) => ("removing", "the upstream"),
                (false, false) => ("removing", "the client"),
            };
            out.push(
                Diagnostic::warning(
                    &HEADER_RULE_OVERRIDDEN,
                    format!(
                        "{verb} `{}` on route `{}` has no effect: meshd writes the framing and connection headers for {towards} itself",
                        rule.name.node, route.name.node
                    ),
                )
                .with_label(rule.name.span, "a connection header, not part of the message")
                .with_help("remove the rule; to change what the upstream receives, use an end-to-end header"),
            );
        }
    }
    out
}
