//! Listen addresses that clash (E0203).
//!
//! *What*: two listeners (of one gateway or of two) on the same port of the same address, or on
//! a port some listener takes on every address (`0.0.0.0`, `[::]`).
//! *Why*: the second bind fails when meshd starts, after the bundle was accepted.
//! *Example*: `gateway a { listen "0.0.0.0:8080" }` and `gateway b { listen "127.0.0.1:8080" }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::socket_address::SocketAddress;
use crate::resolve::Program;
use crate::syntax::ast;

use super::LISTENER_CLASH;

/// Every listener that clashes with an earlier one.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let listeners: Vec<(&ast::Gateway, &ast::Listener, SocketAddress)> = program
        .gateways
        .iter()
        .flat_map(|g| g.listeners.iter().map(move |l| (*g, l)))
        .filter_map(|(g, l)| Some((g, l, SocketAddress::parse(&l.address.node)?)))
        .collect();
    let mut out = Vec::new();
    for (i, (gateway, listener, address)) in listeners.iter().enumerate() {
        let Some((first_gateway, first, _)) = listeners[..i]
            .iter()
            .find(|(_, _, earlier)| earlier.clashes_with(address))
        else {
            continue;
        };
        let owner = if first_gateway.name.node == gateway.name.node {
            "this gateway".to_string()
        } else {
            format!("gateway `{}`", first_gateway.name.node)
        };
        out.push(
            Diagnostic::error(&LISTENER_CLASH, format!("\"{}\" clashes with \"{}\" of {owner}", listener.address.node, first.address.node))
                .with_label(listener.address.span, "cannot bind here")
                .with_label(first.address.span, "this listener takes the port first")
                .with_help("use another port; a wildcard address (0.0.0.0, [::]) takes the port on every address"),
        );
    }
    out
}
