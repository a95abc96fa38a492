//! The bundle's graph with its edges findable from both ends: the bundle lists each node's
//! outgoing edges, and questions such as "what forwards to service `data`" read them backwards.

use std::collections::BTreeMap;

use meshwork_bundle::{EdgeKind, Graph, GraphEdge, GraphNode};

/// An edge seen from its target: the node it leaves and the edge itself.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'g> {
    /// The node the edge leaves.
    pub from: &'g GraphNode,
    /// The edge.
    pub edge: &'g GraphEdge,
}

/// The graph of one bundle, indexed by edge target.
#[derive(Debug)]
pub struct GraphIndex<'g> {
    graph: &'g Graph,
    incoming: BTreeMap<&'g str, Vec<Incoming<'g>>>,
}

impl<'g> GraphIndex<'g> {
    /// Indexes `graph` once.
    pub fn new(graph: &'g Graph) -> Self {
        let mut incoming: BTreeMap<&'g str, Vec<Incoming<'g>>> = BTreeMap::new();
        for node in &graph.nodes {
            for edge in &node.edges {
                incoming
                    .entry(edge.to.as_str())
                    .or_default()
                    .push(Incoming { from: node, edge });
            }
        }
        GraphIndex { graph, incoming }
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&'g GraphNode> {
        self.graph.node(id)
    }

    /// The edges of `kind` pointing at `id`, in the order of their source ids.
    pub fn into_node(&self, id: &str, kind: EdgeKind) -> impl Iterator<Item = Incoming<'g>> + '_ {
        self.incoming
            .get(id)
            .into_iter()
            .flatten()
            .filter(move |incoming| incoming.edge.kind == kind)
            .copied()
    }

    /// The edges of `kind` leaving `id`.
    pub fn out_of(&self, id: &str, kind: EdgeKind) -> impl Iterator<Item = &'g GraphEdge> + '_ {
        self.node(id)
            .into_iter()
            .flat_map(|node| node.edges.iter())
            .filter(move |edge| edge.kind == kind)
    }
}

/// The name part of an id: `route:edge/officers` → `edge/officers`.
pub fn id_name(id: &str) -> &str {
    id.split_once(':').map_or(id, |(_, name)| name)
}
