//! Cycles in the graph: strongly connected components over the edges a caller chooses, each
//! reduced to one concrete closed path to show the user.

use std::collections::{HashSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::{EdgeFiltered, EdgeRef};
use petgraph::Direction;

use super::{Edge, ProgramGraph};

/// A closed path: `edges[i]` leads from `nodes[i]` to `nodes[i + 1]`, and the last edge back to
/// `nodes[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub nodes: Vec<NodeIndex>,
    pub edges: Vec<EdgeIndex>,
}

/// One cycle per strongly connected component of the edges `follow` accepts. When `through` is
/// given, only components holding such an edge count, and the cycle shown runs through it.
pub fn find_cycles(
    graph: &ProgramGraph,
    follow: impl Fn(&Edge) -> bool,
    through: Option<&dyn Fn(&Edge) -> bool>,
) -> Vec<Cycle> {
    let g = &graph.graph;
    let filtered = EdgeFiltered::from_fn(g, |e| follow(e.weight()));
    let mut cycles = Vec::new();
    for component in tarjan_scc(&filtered) {
        // Nearly every node is a component of its own: only a self-loop makes one a cycle.
        if let [only] = component.as_slice() {
            let self_loop = g
                .edges_directed(*only, Direction::Outgoing)
                .any(|e| e.target() == *only && follow(e.weight()));
            if !self_loop {
                continue;
            }
        }
        let members: HashSet<NodeIndex> = component.iter().copied().collect();
        let inside = |e: &petgraph::graph::EdgeReference<Edge>| {
            follow(e.weight()) && members.contains(&e.source()) && members.contains(&e.target())
        };
        let mut candidates: Vec<EdgeIndex> = component
            .iter()
            .flat_map(|n| g.edges_directed(*n, Direction::Outgoing))
            .filter(|e| inside(e) && through.is_none_or(|t| t(e.weight())))
            .map(|e| e.id())
            .collect();
        if component.len() == 1
            && !candidates
                .iter()
                .any(|e| g.edge_endpoints(*e).is_some_and(|(a, b)| a == b))
        {
            continue;
        }
        // Start from the closing edge whose source has the smallest id, so the cycle shown
        // does not depend on the order petgraph found the component in.
        candidates.sort_by_key(|e| edge_key(graph, *e));
        let Some(closing) = candidates.first().copied() else {
            continue;
        };
        let Some((from, to)) = g.edge_endpoints(closing) else {
            continue;
        };
        if let Some(mut cycle) = shortest_path(graph, to, from, &inside) {
            cycle.edges.push(closing);
            cycles.push(cycle);
        }
    }
    cycles.sort_by(|a, b| graph.node(a.nodes[0]).id.cmp(&graph.node(b.nodes[0]).id));
    cycles
}

fn edge_key(graph: &ProgramGraph, edge: EdgeIndex) -> (String, String) {
    let (a, b) = graph.graph.edge_endpoints(edge).unwrap_or_default();
    (graph.node(a).id.clone(), graph.node(b).id.clone())
}

/// The shortest path from `start` to `goal` over edges `inside` accepts (breadth first, edges
/// tried in order of target id so the result is deterministic), as nodes and edges.
fn shortest_path(
    graph: &ProgramGraph,
    start: NodeIndex,
    goal: NodeIndex,
    inside: &dyn Fn(&petgraph::graph::EdgeReference<Edge>) -> bool,
) -> Option<Cycle> {
    let g = &graph.graph;
    let mut previous: std::collections::HashMap<NodeIndex, EdgeIndex> =
        std::collections::HashMap::new();
    let mut queue = VecDeque::from([start]);
    let mut seen = HashSet::from([start]);
    while let Some(node) = queue.pop_front() {
        if node == goal {
            break;
        }
        let mut next: Vec<_> = g
            .edges_directed(node, Direction::Outgoing)
            .filter(|e| inside(e))
            .collect();
        next.sort_by(|a, b| graph.node(a.target()).id.cmp(&graph.node(b.target()).id));
        for edge in next {
            if seen.insert(edge.target()) {
                previous.insert(edge.target(), edge.id());
                queue.push_back(edge.target());
            }
        }
    }
    let mut nodes = vec![goal];
    let mut edges = Vec::new();
    let mut at = goal;
    while at != start {
        let edge = *previous.get(&at)?;
        edges.push(edge);
        at = g.edge_endpoints(edge)?.0;
        nodes.push(at);
    }
    nodes.reverse();
    edges.reverse();
    Some(Cycle { nodes, edges })
}

/// The cycle as `kind name → kind name → …`, back to the first node.
pub fn describe(graph: &ProgramGraph, cycle: &Cycle) -> String {
    let mut parts: Vec<String> = cycle
        .nodes
        .iter()
        .map(|n| {
            let node = graph.node(*n);
            format!("{} `{}`", node.kind.as_str(), node.name)
        })
        .collect();
    if let Some(first) = parts.first().cloned() {
        parts.push(first);
    }
    parts.join(" → ")
}
