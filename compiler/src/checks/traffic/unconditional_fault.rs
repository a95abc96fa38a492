//! Faults without a condition on an exposed route (W0250).
//!
//! *What*: a route has `fault abort …` or `fault delay …` without `when`, and its gateway
//! listens on an address that is not loopback-only.
//! *Why*: faults exist to test one client's behaviour; without a condition every caller that can
//! reach the port gets them, and a forgotten chaos line is an outage.
//! *Example*: `gateway edge { listen "0.0.0.0:8080" route r { match GET "/" public
//! fault abort 10% 503 respond 200 "ok" } }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::socket_address::SocketAddress;
use crate::resolve::Program;

use super::UNCONDITIONAL_FAULT;

/// Every unconditioned fault on a route of an exposed gateway.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for gateway in &program.gateways {
        let exposed = gateway
            .listeners
            .iter()
            .find(|l| SocketAddress::parse(&l.address.node).is_some_and(|a| !a.is_loopback()));
        let Some(exposed) = exposed else { continue };
        for route in &gateway.routes {
            for fault in route.faults().filter(|f| f.when.is_none()) {
                out.push(
                    Diagnostic::warning(
                        &UNCONDITIONAL_FAULT,
                        format!(
                            "route `{}` injects `fault {}` into every request that reaches \"{}\"",
                            route.name.node,
                            fault.kind.keyword(),
                            exposed.address.node
                        ),
                    )
                    .with_label(fault.span, "no `when` condition")
                    .with_label(exposed.address.span, "not loopback-only")
                    .with_help("scope it to the callers under test: `when request.headers[\"x-chaos\"] == \"on\"`"),
                );
            }
        }
    }
    out
}
