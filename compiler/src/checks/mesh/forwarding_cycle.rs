//! Forwarding cycles (E0303).
//!
//! *What*: following forwards, endpoints, listeners and (through produce and deliver) streams
//! leads back to where it started: a service's endpoint is one of the program's own listeners,
//! and a route on that listener forwards to the service again.
//! *Why*: each request loops until a timeout or the connection limit; one request becomes an
//! outage. Gateways routing to themselves after an address change is a classic.
//! *Example*: `gateway edge { listen "0.0.0.0:8080" route r { … forward self } }` and
//! `service self { endpoints ["127.0.0.1:8080"] }`.

use crate::diagnostics::Diagnostic;
use crate::graph::cycles::{describe, find_cycles};
use crate::graph::{Edge, EdgeKind, ProgramGraph, DEAD_LETTER_LABEL};

use super::FORWARDING_CYCLE;

/// The edges a request or record travels along.
pub fn is_flow(edge: &Edge) -> bool {
    match edge.kind {
        EdgeKind::Listens
        | EdgeKind::Admits
        | EdgeKind::Forwards
        | EdgeKind::Balances
        | EdgeKind::Reaches
        | EdgeKind::Consumes => true,
        EdgeKind::Produces => edge.label.as_deref() != Some(DEAD_LETTER_LABEL),
        EdgeKind::Allows | EdgeKind::Denies | EdgeKind::MemberOf => false,
    }
}

/// One error per loop that goes out through an endpoint and back in through a listener.
pub fn check(graph: &ProgramGraph) -> Vec<Diagnostic> {
    let through_listener = |e: &Edge| e.kind == EdgeKind::Reaches;
    find_cycles(graph, is_flow, Some(&through_listener))
        .into_iter()
        .map(|cycle| {
            let mut diagnostic = Diagnostic::error(
                &FORWARDING_CYCLE,
                format!("forwarding cycle: {}", describe(graph, &cycle)),
            );
            for edge in cycle.edges.iter().rev() {
                let weight = &graph.graph[*edge];
                let Some(span) = weight.span else { continue };
                let message = match weight.kind {
                    EdgeKind::Reaches => "this endpoint is one of the program's own listeners",
                    EdgeKind::Forwards => "forwards here",
                    EdgeKind::Produces => "produces here",
                    EdgeKind::Consumes => "consumes here",
                    _ => continue,
                };
                diagnostic = diagnostic.with_label(span, message);
            }
            diagnostic.with_help(
                "point the endpoint at the real upstream, not at a listener of this gateway",
            )
        })
        .collect()
}
