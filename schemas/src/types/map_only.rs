//! Structs are read from an object only, as `bundle.schema.json` asks. serde's derived reader
//! also takes a struct from a sequence of its fields in order (`[14]` for `{"grpc": 14}`), which
//! the schema refuses; the typed parse must refuse what the schema refuses (see `bounded.rs`),
//! since meshd checks bundles with it and no JSON tree.
//!
//! Each struct is derived with `#[serde(remote = "Self")]` (the derived reader and writer become
//! inherent functions; the schema keeps the struct's name through `#[schemars(rename)]`), and
//! [`map_only!`] implements `Deserialize` as that reader over [`MapOnly`], which asks the
//! document for a map where the derived reader asks for a struct. `Serialize` is unchanged. The
//! wrapper forwards one call per struct, so the parse costs what it did.

use serde::de::{Deserializer, Visitor};

/// Implements `Deserialize` (through [`MapOnly`]) and `Serialize` (unchanged) for structs derived
/// with `#[serde(remote = "Self")]`.
macro_rules! map_only {
    ($($name:ident),+ $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $name::deserialize($crate::types::map_only::MapOnly(deserializer))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $name::serialize(self, serializer)
            }
        }
    )+};
}
pub(crate) use map_only;

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
    #[test]
    fn every_struct_of_the_bundle_refuses_the_sequence_form() {
        // One struct per file, each read from its fields in order, which serde's derived reader
        // takes and the schema refuses.
        let listed = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert!(serde_json::from_value::<crate::GrpcRetry>(listed("[14]")).is_err());
        assert!(serde_json::from_value::<crate::RetryOn>(listed("[14]")).is_err());
        assert!(serde_json::from_value::<crate::SuccessRate>(listed("[20]")).is_err());
        assert!(serde_json::from_str::<crate::SourceLocation>(r#"["a.mesh", 1, 1]"#).is_err());
        assert!(serde_json::from_str::<crate::Tracing>("[50]").is_err());
        assert!(serde_json::from_str::<crate::NameValue>(r#"["a", "b"]"#).is_err());
        assert!(serde_json::from_str::<crate::TopicSchema>(r#"["a", {}]"#).is_err());
        assert!(serde_json::from_str::<crate::MeshMirror>("[]").is_err());
        // The object form still reads.
        let code: crate::GrpcRetry = serde_json::from_str(r#"{"grpc": 14}"#).unwrap();
        assert_eq!(code.grpc, 14);
    }
}
