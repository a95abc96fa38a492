//! The tag of an internally tagged enum (`#[serde(tag = "kind")]`, `tag = "step"`) is read as a
//! string, as `bundle.schema.json` asks, and the enum only from an object.
//!
//! serde reads the tag as a variant *identifier*, which also takes a variant index: nested in
//! another tagged enum (a fault's action, an auth step's method, a produce's topic) the tag
//! reaches the enum from serde's buffer, where `"kind": 0` reads as the first variant. serde also
//! reads a tagged enum from a sequence, the tag first (`["round_robin"]`). The schema refuses
//! both, and the typed parse must refuse what the schema refuses (see `bounded.rs`).
//!
//! Each tagged enum is derived with `#[serde(remote = "Self")]` (the derived reader becomes an
//! inherent `deserialize`, the schema keeps its name through `#[schemars(rename)]`) and
//! [`read_through!`](super::read_through) implements `Deserialize` as that reader over [`StringTag`]: the document
//! must be a map, and a value of the map read as an identifier (only the tag is) must be a
//! string. The wrappers only forward calls, so the parse costs what it did.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

/// A deserializer for an internally tagged enum: it offers the derived reader a map only, whose
/// values refuse to be read as a non-string identifier.
pub(crate) struct StringTag<D>(pub(crate) D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for StringTag<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(MapOnly(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// The enum's visitor, offered a map only (any other input is refused with its `expecting`).
struct MapOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for MapOnly<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(formatter)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(StringTagMap(map))
    }
}

/// The enum's map, whose values are read through [`StringIdentifier`].
struct StringTagMap<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StringTagMap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.0.next_value_seed(StringIdentifier(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// A value of the enum's map: read as it would be, except that an identifier (the tag: the
/// other values are buffered as they are) must be a string.
struct StringIdentifier<T>(T);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for StringIdentifier<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(StringIdentifier(deserializer))
    }
}

/// Forwards `deserialize_*` methods without extra arguments to the inner deserializer.
macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for StringIdentifier<D> {
    type Error = D::Error;

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_identifier(StrOnly(visitor))
    }

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// The tag's visitor, given strings only: a variant index (or bytes) is refused.
struct StrOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for StrOnly<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string naming the variant")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<V::Value, E> {
        self.0.visit_str(text)
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<V::Value, E> {
        self.0.visit_borrowed_str(text)
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<V::Value, E> {
        self.0.visit_string(text)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::sample::starfleet_bundle;
    use crate::{Bundle, BUNDLE_SCHEMA};

    /// Every object in `value` holding a string `kind` or `step` tag, as (path, tag name).
    fn tagged_objects(value: &Value, path: &mut Vec<Value>, out: &mut Vec<(Vec<Value>, String)>) {
        match value {
            Value::Object(map) => {
                for tag in ["kind", "step"] {
                    if map.get(tag).is_some_and(Value::is_string) {
                        out.push((path.clone(), tag.to_string()));
                    }
                }
                for (key, child) in map {
                    path.push(Value::from(key.as_str()));
                    tagged_objects(child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(Value::from(i));
                    tagged_objects(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    fn at<'v>(document: &'v mut Value, path: &[Value]) -> &'v mut Value {
        path.iter().fold(document, |here, step| match step {
            Value::String(key) => &mut here[key.as_str()],
            _ => &mut here[step.as_u64().unwrap() as usize],
        })
    }

    /// For every tagged object of the sample bundle (route actions, admission steps, fault
    /// actions, auth methods, produce topics, balance policies, credentials): the tag replaced
    /// by a variant index (`"kind": 0`) or by another non-string, and the object replaced by
    /// serde's sequence form (`[tag, fields…]`), are refused by the typed parse as the schema
    /// refuses them. serde's internally tagged enums read an integer as the variant index, and
    /// nested in another tagged enum (a fault's action, an auth step's method, a produce's
    /// topic) the tag reaches them buffered, where the integer is not refused.
    /// The schema's tagged definitions (a `oneOf` of objects with a `const` property).
    fn tagged_definitions() -> Vec<String> {
        let schema: Value = serde_json::from_str(BUNDLE_SCHEMA).unwrap();
        let mut names: Vec<String> = schema["$defs"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, definition)| {
                definition["oneOf"].as_array().is_some_and(|branches| {
                    branches.iter().all(|branch| {
                        branch["properties"].as_object().is_some_and(|properties| {
                            properties.values().any(|p| p["const"].is_string())
                        })
                    })
                })
            })
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_tagged_enum_is_read_through_string_tag() {
        // A tagged enum added to the schema must be read through `StringTag` (`read_through!`, or
        // `StringTag`) and listed here: it then refuses a sequence before reading any tag.
        fn refuses_a_sequence<T: serde::de::DeserializeOwned>(name: &str) {
            let error = serde_json::from_str::<T>("[0]")
                .err()
                .map(|e| e.to_string());
            assert!(
                error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("invalid type: sequence")),
                "{name} read a sequence: {error:?}"
            );
        }
        refuses_a_sequence::<crate::AdmissionStep>("AdmissionStep");
        refuses_a_sequence::<crate::AuthMethod>("AuthMethod");
        refuses_a_sequence::<crate::Balance>("Balance");
        refuses_a_sequence::<crate::Credential>("Credential");
        refuses_a_sequence::<crate::FaultAction>("FaultAction");
        refuses_a_sequence::<crate::ProduceTopic>("ProduceTopic");
        refuses_a_sequence::<crate::RouteAction>("RouteAction");
        assert_eq!(
            tagged_definitions(),
            [
                "AdmissionStep",
                "AuthMethod",
                "Balance",
                "Credential",
                "FaultAction",
                "ProduceTopic",
                "RouteAction"
            ]
        );
    }

    /// The refusal says what was expected, with the position in the text.
    #[test]
    fn a_variant_index_as_tag_is_refused_with_a_clear_error() {
        let text = starfleet_bundle().to_canonical_json();
        let edited = text.replacen(r#""method":{"kind":"key""#, r#""method":{"kind":0"#, 1);
        assert_ne!(edited, text, "the sample has no key auth step");
        let error = Bundle::from_json(&edited).unwrap_err().to_string();
        assert!(
            error.starts_with("invalid type: integer `0`, expected a string naming the variant"),
            "{error}"
        );
        let sequence = r#"{"kind":"round_robin"}"#;
        let edited = text.replacen(sequence, r#"["round_robin"]"#, 1);
        assert_ne!(edited, text, "the sample has no round robin service");
        let error = Bundle::from_json(&edited).unwrap_err().to_string();
        assert!(
            error.starts_with("invalid type: sequence, expected internally tagged enum Balance"),
            "{error}"
        );
    }

    #[test]
    fn a_non_string_tag_is_refused_for_every_tagged_enum() {
        let sample: Value = serde_json::from_str(&starfleet_bundle().to_canonical_json()).unwrap();
        let schema: Value = serde_json::from_str(BUNDLE_SCHEMA).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut tagged = Vec::new();
        tagged_objects(&sample, &mut Vec::new(), &mut tagged);
        let kinds: std::collections::BTreeSet<String> = tagged
            .iter()
            .map(|(path, tag)| at(&mut sample.clone(), path)[tag.as_str()].to_string())
            .collect();
        assert!(
            kinds.len() >= 12,
            "the sample has few tagged variants: {kinds:?}"
        );

        let mut accepted = Vec::new();
        for (path, tag) in &tagged {
            let original = at(&mut sample.clone(), path).clone();
            let mut replacements: Vec<(String, Value)> = Vec::new();
            for tag_value in (0..8).map(Value::from).chain([
                Value::from(-1),
                Value::from(1.5),
                Value::Bool(true),
                Value::Null,
                serde_json::json!([]),
                serde_json::json!({}),
            ]) {
                let mut object = original.clone();
                object[tag.as_str()] = tag_value.clone();
                replacements.push((format!("{tag}: {tag_value}"), object));
            }
            // serde's sequence form: the tag first, then the other fields in declaration order
            // (tried with the fields in sorted order and with none).
            let fields: Vec<Value> = original
                .as_object()
                .unwrap()
                .iter()
                .filter(|(key, _)| *key != tag)
                .map(|(_, value)| value.clone())
                .collect();
            for head in [
                original[tag.as_str()].clone(),
                Value::from(0),
                Value::from(1),
            ] {
                replacements.push((format!("[{head}]"), Value::Array(vec![head.clone()])));
                let mut all = vec![head.clone()];
                all.extend(fields.iter().cloned());
                replacements.push((format!("[{head}, fields…]"), Value::Array(all)));
            }
            for (what, replacement) in replacements {
                let mut document = sample.clone();
                *at(&mut document, path) = replacement;
                assert!(
                    !validator.is_valid(&document),
                    "the schema accepts {what} at {path:?}"
                );
                if serde_json::from_value::<Bundle>(document.clone()).is_ok()
                    || Bundle::from_json(&document.to_string()).is_ok()
                {
                    accepted.push(format!("{what} at {path:?}"));
                }
            }
        }
        assert!(
            accepted.is_empty(),
            "the typed parse accepted what the schema refuses:\n{}",
            accepted.join("\n")
        );
    }
}
