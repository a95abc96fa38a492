//! Checking a graph's JSON without keeping it, for a reader that never uses the graph (meshd
//! serving a bundle). The graph is a quarter of a large bundle's text and hundreds of thousands
//! of small strings; building it only to drop it was about a tenth of meshd's load. Inside
//! [`without_graphs`], a [`Graph`] is read by the shapes below, which accept exactly what the
//! typed reader accepts (objects only, no unknown or missing field, the same kinds) and allocate
//! nothing, and comes out empty.

use std::cell::Cell;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use super::graph::Graph;
use super::map_only::MapOnly;

thread_local! {
    static SKIPPING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `read` with every [`Graph`] it deserializes on this thread checked and left empty.
pub fn without_graphs<T>(read: impl FnOnce() -> T) -> T {
    /// Turns skipping off again, also when `read` panics.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SKIPPING.with(|skipping| skipping.set(self.0));
        }
    }
    let _restore = Restore(SKIPPING.with(|skipping| skipping.replace(true)));
    read()
}

/// Reads a graph: checked only inside [`without_graphs`], else whole.
pub(crate) fn read_graph<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Graph, D::Error> {
    if SKIPPING.with(Cell::get) {
        shape::Graph::deserialize(MapOnly(deserializer))?;
        Ok(Graph::default())
    } else {
        Graph::deserialize(MapOnly(deserializer))
    }
}

/// The shapes, named as the types they check, so that what they refuse reads the same.
mod shape {
    use serde::Deserialize;

    use super::{Each, Text};
    use crate::types::graph::{EdgeKind, NodeKind};

    /// [`crate::Graph`]'s fields.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Graph {
        #[serde(rename = "nodes")]
        _nodes: Each<GraphNode>,
    }

    /// [`crate::types::graph::GraphNode`]'s fields.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct GraphNode {
        #[serde(rename = "id")]
        _id: Text,
        #[serde(rename = "kind")]
        _kind: NodeKind,
        #[serde(rename = "name")]
        _name: Text,
        #[serde(rename = "edges")]
        _edges: Each<GraphEdge>,
    }

    /// [`crate::types::graph::GraphEdge`]'s fields.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct GraphEdge {
        #[serde(rename = "to")]
        _to: Text,
        #[serde(rename = "kind")]
        _kind: EdgeKind,
        #[serde(rename = "label", deserialize_with = "crate::types::bounded::present")]
        _label: Option<Text>,
    }
}

/// A string, not kept.
struct Text;

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Text, E> {
                Ok(Text)
            }
        }
        deserializer.deserialize_string(TextVisitor)
    }
}

/// An array whose elements are each read as the object `T`, and not kept.
struct Each<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Each<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(Each(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Each<T> {
    type Value = Each<T>;
    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut elements: A) -> Result<Self::Value, A::Error> {
        while elements
            .next_element_seed(Object::<T>(PhantomData))?
            .is_some()
        {}
        Ok(self)
    }
}

/// One element read as the object `T`.
struct Object<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Object<T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        T::deserialize(MapOnly(deserializer)).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::sample::starfleet_bundle;

    /// Whether the typed reader and the check agree on `document`; the check's graph is empty.
    fn assert_agree(document: &Value) {
        let text = document.to_string();
        let typed = serde_json::from_str::<Graph>(&text);
        let checked = without_graphs(|| serde_json::from_str::<Graph>(&text));
        assert_eq!(
            typed.as_ref().map(|_| ()).map_err(|e| e.to_string()),
            checked.as_ref().map(|_| ()).map_err(|e| e.to_string()),
            "{text}"
        );
        if let Ok(graph) = checked {
            assert!(graph.nodes.is_empty());
        }
    }

    #[test]
    fn the_check_accepts_and_refuses_what_the_typed_reader_does() {
        let graph = serde_json::to_value(starfleet_bundle().graph).unwrap();
        assert!(!graph["nodes"].as_array().unwrap().is_empty());
        assert!(serde_json::from_value::<Graph>(graph.clone()).is_ok());
        assert_agree(&graph);
        let node = graph["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|node| {
                let first = node["edges"].as_array().and_then(|edges| edges.first());
                first.is_some_and(|edge| edge["label"].is_null())
            })
            .expect("a node with an unlabelled edge");
        let edge = &node["edges"][0];
        let mut cases = vec![
            json!({"nodes": []}),
            json!({}),
            json!([[]]),
            json!({"nodes": {}}),
            json!({"nodes": [], "extra": 1}),
            json!({"nodes": [[node["id"], node["kind"], node["name"], []]]}),
            json!(null),
        ];
        for field in ["id", "kind", "name", "edges"] {
            let mut changed = node.clone();
            changed.as_object_mut().unwrap().remove(field);
            cases.push(json!({"nodes": [changed]}));
            let mut changed = node.clone();
            changed[field] = json!(7);
            cases.push(json!({"nodes": [changed]}));
        }
        let mut extra = node.clone();
        extra["weight"] = json!(1);
        cases.push(json!({"nodes": [extra]}));
        for field in ["to", "kind", "label"] {
            let mut changed = edge.clone();
            changed.as_object_mut().unwrap().remove(field);
            let mut with = node.clone();
            with["edges"] = json!([changed]);
            cases.push(json!({"nodes": [with]}));
            let mut changed = edge.clone();
            changed[field] = json!([]);
            let mut with = node.clone();
            with["edges"] = json!([changed]);
            cases.push(json!({"nodes": [with]}));
        }
        let mut labelled = edge.clone();
        labelled["label"] = json!("weight 90%");
        let mut with = node.clone();
        with["edges"] = json!([labelled, edge.clone(), null]);
        cases.push(json!({"nodes": [with]}));
        for case in &cases {
            assert_agree(case);
        }
    }

    #[test]
    fn skipping_ends_with_the_read_also_when_it_panics() {
        let text = serde_json::to_string(&starfleet_bundle().graph).unwrap();
        let panicked = std::panic::catch_unwind(|| without_graphs(|| panic!("in the read")));
        assert!(panicked.is_err());
        let graph: Graph = serde_json::from_str(&text).unwrap();
        assert!(!graph.nodes.is_empty(), "read whole outside without_graphs");
    }
}
