//! The verified graph (petgraph): gateways, listeners, routes, consumers, groups, services,
//! endpoints, topics and streams as nodes; the edges of [`EdgeKind`] between them. Built once
//! from the resolved program; the checks that follow paths (forwarding and stream cycles) walk
//! it, emit writes it into the bundle, and `meshc graph` draws it.

pub mod build;
pub mod cycles;
pub mod render_dot;
pub mod render_mermaid;

use std::collections::HashMap;

use foldhash::fast::FixedState;
use petgraph::graph::{DiGraph, NodeIndex};

pub use meshwork_bundle::{EdgeKind, NodeKind};

use crate::source::Span;

/// The label of a stream's edge to its dead-letter topic.
pub const DEAD_LETTER_LABEL: &str = "dead letter";

/// A node: what it is, its unique id and name, and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    /// `<kind>:<qualified name>`, as in the bundle.
    pub id: String,
    pub name: String,
    /// The defining name (or first mention, for topics and groups).
    pub span: Option<Span>,
}

/// An edge: what it means, an optional label, and the statement that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub kind: EdgeKind,
    pub label: Option<String>,
    pub span: Option<Span>,
}

/// The program's graph, with nodes findable by id.
#[derive(Debug, Default)]
pub struct ProgramGraph {
    pub graph: DiGraph<Node, Edge>,
    /// Lookups only (never iterated), so a fixed-seed fast hash is safe.
    ids: HashMap<String, NodeIndex, FixedState>,
    /// Where ids are spelled for lookups while building, so finding a node allocates nothing.
    scratch: String,
}

impl ProgramGraph {
    /// The node with this id.
    pub fn find(&self, id: &str) -> Option<NodeIndex> {
        self.ids.get(id).copied()
    }

    /// The node `kind:name`.
    pub fn find_named(&self, kind: NodeKind, name: &str) -> Option<NodeIndex> {
        self.find(&node_id(kind, name))
    }

    /// The node at `index`.
    pub fn node(&self, index: NodeIndex) -> &Node {
        &self.graph[index]
    }

    /// Adds a node, or returns the existing one with the same id (keeping its first span).
    pub fn add_node(
        &mut self,
        kind: NodeKind,
        qualified: &str,
        name: &str,
        span: Option<Span>,
    ) -> NodeIndex {
        write_id(&mut self.scratch, kind, None, qualified);
        self.add_spelled(kind, name, span)
    }

    /// [`ProgramGraph::add_node`] for a node owned by `owner` (`route:edge/officers`), without
    /// building the qualified name first.
    pub fn add_owned_node(
        &mut self,
        kind: NodeKind,
        owner: &str,
        name: &str,
        span: Option<Span>,
    ) -> NodeIndex {
        write_id(&mut self.scratch, kind, Some(owner), name);
        self.add_spelled(kind, name, span)
    }

    /// The node `kind:owner/name`, found without allocating.
    pub fn find_owned(&mut self, kind: NodeKind, owner: &str, name: &str) -> Option<NodeIndex> {
        write_id(&mut self.scratch, kind, Some(owner), name);
        self.ids.get(self.scratch.as_str()).copied()
    }

    /// The node `kind:name`, found without allocating.
    pub fn find_unowned(&mut self, kind: NodeKind, name: &str) -> Option<NodeIndex> {
        write_id(&mut self.scratch, kind, None, name);
        self.ids.get(self.scratch.as_str()).copied()
    }

    /// Adds the node whose id is spelled in `scratch`, unless it exists.
    fn add_spelled(&mut self, kind: NodeKind, name: &str, span: Option<Span>) -> NodeIndex {
        if let Some(index) = self.ids.get(self.scratch.as_str()) {
            return *index;
        }
        let id = self.scratch.clone();
        let index = self.graph.add_node(Node {
            kind,
            id: id.clone(),
            name: name.to_string(),
            span,
        });
        self.ids.insert(id, index);
        index
    }

    /// Adds an edge.
    pub fn add_edge(
        &mut self,
        from: NodeIndex,
        to: NodeIndex,
        kind: EdgeKind,
        label: Option<String>,
        span: Option<Span>,
    ) {
        self.graph.add_edge(from, to, Edge { kind, label, span });
    }
}

/// The id of a node: `kind:qualified` (`route:edge/officers`).
pub fn node_id(kind: NodeKind, qualified: &str) -> String {
    let mut id = String::new();
    write_id(&mut id, kind, None, qualified);
    id
}

/// Spells `kind:owner/name` (or `kind:name` without an owner) into `out`, replacing its text.
fn write_id(out: &mut String, kind: NodeKind, owner: Option<&str>, name: &str) {
    out.clear();
    out.push_str(kind.as_str());
    out.push(':');
    if let Some(owner) = owner {
        out.push_str(owner);
        out.push('/');
    }
    out.push_str(name);
}

/// A name qualified by its owner (`edge/officers`).
pub fn qualified(owner: &str, name: &str) -> String {
    format!("{owner}/{name}")
}
