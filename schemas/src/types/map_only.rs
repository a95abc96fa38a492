//! Structs are read from an object only, as `bundle.schema.json` asks. serde's derived reader
//! also takes a struct from a sequence of its fields in order (`[14]` for `{"grpc": 14}`), which
//! the schema refuses; the typed parse must refuse what the schema refuses (see `bounded.rs`),
//! since meshd checks bundles with it and no JSON tree.
//!
//! Each struct is derived with `#[serde(remote = "Self")]` (the derived reader and writer become
//! inherent functions; the schema keeps the struct's name through `#[schemars(rename)]`), and
//! [`read_through!`](super::read_through) implements `Deserialize` as that reader over [`MapOnly`], which asks the
//! document for a map where the derived reader asks for a struct. `Serialize` is unchanged. The
//! wrapper forwards one call per struct, so the parse costs what it did.

use serde::de::{Deserializer, Visitor};

/// A deserializer that reads a struct from a map only.
pub(crate) struct MapOnly<D>(pub(crate) D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::BUNDLE_SCHEMA;

    /// The schema's object definitions, and the root (the bundle).
    fn object_definitions() -> Vec<String> {
        let schema: Value = serde_json::from_str(BUNDLE_SCHEMA).unwrap();
        let mut names: Vec<String> = schema["$defs"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, definition)| definition["type"] == "object")
            .map(|(name, _)| name.clone())
            .collect();
        names.push(schema["title"].as_str().unwrap().to_string());
        names.sort();
        names
    }

    /// Reads `[0]` as each of `types` and expects serde's refusal of a sequence; answers the
    /// names checked.
    macro_rules! refuse_sequences {
        ($($name:ident),+ $(,)?) => {{
            let mut checked = Vec::new();
            $(
                let read = serde_json::from_str::<crate::$name>("[0]").map(|_| ());
                let error = read.err().map(|e| e.to_string());
                assert!(
                    error.as_deref().is_some_and(|e| e.starts_with("invalid type: sequence")),
                    "{} read a sequence: {error:?}",
                    stringify!($name)
                );
                checked.push(stringify!($name).to_string());
            )+
            checked.sort();
            checked
        }};
    }

    #[test]
    fn every_struct_of_the_bundle_refuses_the_sequence_form() {
        // A struct added to the schema must be read through `MapOnly` and listed here.
        let checked = refuse_sequences!(
            Bundle,
            CircuitBreaker,
            CompilerInfo,
            Consumer,
            Deliver,
            FailurePercentage,
            ForwardTarget,
            Gateway,
            Graph,
            GraphEdge,
            GraphNode,
            GrpcRetry,
            HealthCheck,
            LatencyOutlier,
            Listener,
            ListenerTls,
            Mesh,
            MeshFault,
            MeshMirror,
            MeshRule,
            NameValue,
            PathMatch,
            PathPolicy,
            Retry,
            RetryBudget,
            Route,
            RouteMatch,
            RouteMirror,
            RouteUpgrades,
            Service,
            SourceDigest,
            SourceLocation,
            Stream,
            StreamSink,
            StreamSource,
            SuccessRate,
            Topic,
            TopicSchema,
            Tracing,
        );
        assert_eq!(checked, object_definitions());
        // Inside an untagged enum too (a retry condition), and the object form still reads.
        assert!(serde_json::from_str::<crate::RetryOn>("[14]").is_err());
        let code: crate::GrpcRetry = serde_json::from_str(r#"{"grpc": 14}"#).unwrap();
        assert_eq!(code.grpc, 14);
    }
}
