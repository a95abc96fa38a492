//! Routes without authentication on a listener others can reach (W0600).
//!
//! *What*: a route has no `auth` and is not marked `public`, and its gateway listens on an
//! address that is not loopback-only.
//! *Why*: an open route is either deliberate (say so with `public`) or a forgotten line that
//! exposes an upstream to anyone who can reach the port.
//! *Example*: `gateway edge { listen "0.0.0.0:8080" route r { match GET "/" forward picard } }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::socket_address::SocketAddress;
use crate::resolve::Program;

use super::UNAUTHENTICATED_ROUTE;

/// Every open route on an exposed gateway.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for gateway in &program.gateways {
        let exposed = gateway
            .listeners
            .iter()
            .find(|l| SocketAddress::parse(&l.address.node).is_some_and(|a| !a.is_loopback()));
        let Some(exposed) = exposed else { continue };
        for route in &gateway.routes {
            if route.auth().is_none() && !route.is_public() {
                out.push(
                    Diagnostic::warning(&UNAUTHENTICATED_ROUTE, format!("route `{}` admits anyone who can reach \"{}\"", route.name.node, exposed.address.node))
                        .with_label(route.name.span, "no `auth` and not marked `public`")
                        .with_label(exposed.address.span, "not loopback-only")
                        .with_help("add `auth key header \"x-api-key\"` (or basic, jwt), or write `public` if the route is open on purpose"),
                );
            }
        }
    }
    out
}
