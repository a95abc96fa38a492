//! The verified graph as the bundle's adjacency list: nodes sorted by id, each node's edges
//! sorted by target, kind and label, repeated edges written once.

use meshwork_bundle::{Graph, GraphEdge, GraphNode};
use petgraph::visit::EdgeRef;

use crate::graph::ProgramGraph;

/// Lowers the program graph.
pub fn lower_graph(program_graph: &ProgramGraph) -> Graph {
    let g = &program_graph.graph;
    let mut nodes: Vec<GraphNode> = g
        .node_indices()
        .map(|index| {
            let node = &g[index];
            let mut edges: Vec<GraphEdge> = g
                .edges(index)
                .map(|edge| GraphEdge {
                    to: g[edge.target()].id.clone(),
                    kind: edge.weight().kind,
                    label: edge.weight().label.clone(),
                })
                .collect();
            edges.sort();
            edges.dedup();
            GraphNode {
                id: node.id.clone(),
                kind: node.kind,
                name: node.name.clone(),
                edges,
            }
        })
        .collect();
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    Graph { nodes }
}
