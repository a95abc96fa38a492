//! The verified graph of a program, as an adjacency list so tools can draw it: every gateway,
//! listener, route, consumer, group, service, endpoint, topic and stream, and the edges between
//! them. Edges point the way requests and records travel (listener → gateway → route → service →
//! endpoint; route → topic → stream → topic), except access and mesh rules, which point from the
//! rule's subject to what it allows or denies.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every node with its outgoing edges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "Graph")]
#[serde(deny_unknown_fields)]
pub struct Graph {
    /// Sorted by id.
    pub nodes: Vec<GraphNode>,
}

/// One node and the edges leaving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "GraphNode")]
#[serde(deny_unknown_fields)]
pub struct GraphNode {
    /// Unique within the graph: `<kind>:<name>`, where names inside a gateway or service are
    /// qualified by it (`gateway:edge`, `route:edge/officers`, `endpoint:picard/127.0.0.1:9101`).
    pub id: String,
    /// What the node is.
    pub kind: NodeKind,
    /// The name as written (`officers`, `127.0.0.1:9101`, `captains-log`).
    pub name: String,
    /// Outgoing edges, sorted by target id, then kind, then label.
    pub edges: Vec<GraphEdge>,
}

/// One directed edge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
#[schemars(rename = "GraphEdge")]
#[serde(deny_unknown_fields)]
pub struct GraphEdge {
    /// The id of the node the edge points to.
    pub to: String,
    /// What the edge means.
    pub kind: EdgeKind,
    /// Detail worth drawing (a split weight, a mesh rule's CEL condition, `dead letter`), or `null`.
    #[serde(deserialize_with = "super::bounded::present")]
    pub label: Option<String>,
}

/// The kinds of node.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A gateway.
    Gateway,
    /// A listening address of a gateway.
    Listener,
    /// A route of a gateway.
    Route,
    /// A known client of a gateway.
    Consumer,
    /// A group of consumers of a gateway.
    Group,
    /// An upstream service.
    Service,
    /// A `host:port` of a service.
    Endpoint,
    /// A Kafka topic.
    Topic,
    /// A stream rule over Kafka records.
    Stream,
}

/// The kinds of edge.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Listener → gateway: the listener accepts connections for the gateway.
    Listens,
    /// Gateway → route: the gateway admits requests through the route.
    Admits,
    /// Route → service (a forward, labelled with its weight) or stream → service (a `deliver`).
    Forwards,
    /// Route → topic or stream → topic (labelled `dead letter` for a stream's dead letter).
    Produces,
    /// Topic → stream: the stream consumes the topic (labelled with the consumer group).
    Consumes,
    /// Route → consumer or group (an access rule), or gateway/service → service (a mesh rule).
    Allows,
    /// Like [`EdgeKind::Allows`], for deny rules.
    Denies,
    /// Consumer → group.
    MemberOf,
    /// Service → endpoint: the service balances requests over its endpoints.
    Balances,
    /// Endpoint → listener: the endpoint's address is a listener of this program, so requests
    /// sent there come back in.
    Reaches,
}

impl NodeKind {
    /// The kind as written in ids (`route`, `endpoint`).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Gateway => "gateway",
            NodeKind::Listener => "listener",
            NodeKind::Route => "route",
            NodeKind::Consumer => "consumer",
            NodeKind::Group => "group",
            NodeKind::Service => "service",
            NodeKind::Endpoint => "endpoint",
            NodeKind::Topic => "topic",
            NodeKind::Stream => "stream",
        }
    }
}

impl EdgeKind {
    /// The kind as written in the bundle (`member_of`).
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Listens => "listens",
            EdgeKind::Admits => "admits",
            EdgeKind::Forwards => "forwards",
            EdgeKind::Produces => "produces",
            EdgeKind::Consumes => "consumes",
            EdgeKind::Allows => "allows",
            EdgeKind::Denies => "denies",
            EdgeKind::MemberOf => "member_of",
            EdgeKind::Balances => "balances",
            EdgeKind::Reaches => "reaches",
        }
    }
}

impl Graph {
    /// The node with this id (nodes are sorted by id).
    pub fn node(&self, id: &str) -> Option<&GraphNode> {
        self.nodes
            .binary_search_by(|n| n.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.nodes[i])
    }

    /// The number of edges over all nodes.
    pub fn edge_count(&self) -> usize {
        self.nodes.iter().map(|n| n.edges.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_their_names() {
        for kind in [NodeKind::Gateway, NodeKind::Endpoint] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for kind in [EdgeKind::MemberOf, EdgeKind::Reaches] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn nodes_are_found_by_id() {
        let node = |id: &str| GraphNode {
            id: id.to_string(),
            kind: NodeKind::Service,
            name: id.to_string(),
            edges: Vec::new(),
        };
        let graph = Graph {
            nodes: vec![node("service:a"), node("service:b")],
        };
        assert_eq!(
            graph.node("service:b").map(|n| n.name.as_str()),
            Some("service:b")
        );
        assert!(graph.node("service:c").is_none());
    }
}

super::read_through!(crate::types::map_only::MapOnly: GraphNode, GraphEdge);

// The graph is read whole, or only checked inside `graph_check::without_graphs`.
impl<'de> Deserialize<'de> for Graph {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::graph_check::read_graph(deserializer)
    }
}

impl Serialize for Graph {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Graph::serialize(self, serializer)
    }
}
