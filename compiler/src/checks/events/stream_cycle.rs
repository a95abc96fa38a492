//! Streams that feed each other in a loop (E0400).
//!
//! *What*: following `from` and `to` through topics leads back to the start (A → B → A, or a
//! stream writing to the topic it reads). Dead letters are not followed: reading a dead letter
//! back is a deliberate retry loop.
//! *Why*: every record that passes the filters circulates forever, multiplying load until the
//! brokers fill up.
//! *Example*: `stream a { from topic "x" to topic "y" }` and `stream b { from topic "y" to topic "x" }`.

use crate::diagnostics::Diagnostic;
use crate::graph::cycles::{describe, find_cycles};
use crate::graph::{Edge, EdgeKind, ProgramGraph, DEAD_LETTER_LABEL};

use super::STREAM_CYCLE;

/// One error per loop of streams through topics.
pub fn check(graph: &ProgramGraph) -> Vec<Diagnostic> {
    let follow = |e: &Edge| {
        e.kind == EdgeKind::Consumes
            || (e.kind == EdgeKind::Produces && e.label.as_deref() != Some(DEAD_LETTER_LABEL))
    };
    find_cycles(graph, follow, None)
        .into_iter()
        .filter(|cycle| cycle.nodes.iter().all(|n| matches!(graph.node(*n).kind, crate::graph::NodeKind::Topic | crate::graph::NodeKind::Stream)))
        .map(|cycle| {
            let mut diagnostic = Diagnostic::error(&STREAM_CYCLE, format!("streams loop through topics: {}", describe(graph, &cycle)));
            for edge in &cycle.edges {
                let weight = &graph.graph[*edge];
                if let (EdgeKind::Produces, Some(span)) = (weight.kind, weight.span) {
                    diagnostic = diagnostic.with_label(span, "writes back into the loop");
                }
            }
            diagnostic.with_help("every record passing the conditions would circulate forever; break the loop by writing to another topic")
        })
        .collect()
}
