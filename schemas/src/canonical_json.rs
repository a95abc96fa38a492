//! Deterministic JSON text for bundles: keys sorted at every level, whatever the struct field
//! order and whether or not serde_json's `preserve_order` feature is on somewhere in the build.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::types::bundle::Bundle;

/// Converts `value` to a JSON tree whose objects have their keys in sorted (byte) order.
pub fn sorted_value<T: Serialize>(value: &T) -> Result<Value, serde_json::Error> {
    Ok(sort_keys(serde_json::to_value(value)?))
}

/// Rebuilds every object with its keys inserted in sorted order, so the result prints sorted
/// both with the default `BTreeMap` maps and with insertion-ordered (`preserve_order`) maps.
pub fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut sorted = Map::new();
            for (key, value) in entries {
                sorted.insert(key, sort_keys(value));
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// Sorted keys, 2-space indentation and a trailing newline.
pub fn to_pretty_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value)
        .expect("a serde_json::Value always serializes (its keys are strings)");
    text.push('\n');
    text
}

impl Bundle {
    fn sorted_tree(&self) -> Value {
        sorted_value(self)
            .expect("bundle types have string keys and infallible Serialize impls, so they always serialize")
    }

    /// The canonical form: sorted keys at every level, no whitespace. The digest is taken over this.
    pub fn to_canonical_json(&self) -> String {
        serde_json::to_string(&self.sorted_tree())
            .expect("a serde_json::Value always serializes (its keys are strings)")
    }

    /// The form written to disk: sorted keys, 2-space indentation, a trailing newline.
    pub fn to_pretty_json(&self) -> String {
        to_pretty_text(&self.sorted_tree())
    }

    /// Parses a bundle, refusing unknown fields. Does not check the digest (see [`Bundle::verify_digest`]).
    pub fn from_json(text: &str) -> Result<Bundle, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::starfleet_bundle;

    #[test]
    fn nested_object_keys_come_out_sorted() {
        let value = serde_json::json!({"b": {"z": 1, "a": [{"y": 0, "x": 0}]}, "a": null});
        let text = serde_json::to_string(&sort_keys(value)).unwrap();
        assert_eq!(text, r#"{"a":null,"b":{"a":[{"x":0,"y":0}],"z":1}}"#);
    }

    #[test]
    fn canonical_json_has_no_whitespace_and_sorted_top_level_keys() {
        let text = starfleet_bundle().to_canonical_json();
        assert!(!text.contains('\n') && !text.contains(": ") && !text.contains(", "));
        assert!(text.starts_with(r#"{"compiler":{"name":"meshc""#), "{text}");
    }

    #[test]
    fn pretty_json_uses_two_spaces_and_ends_with_a_newline() {
        let text = starfleet_bundle().to_pretty_json();
        assert!(
            text.starts_with("{\n  \"compiler\": {\n    \"name\""),
            "{text}"
        );
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn pretty_and_canonical_forms_parse_back_to_the_same_bundle() {
        let bundle = starfleet_bundle();
        assert_eq!(Bundle::from_json(&bundle.to_pretty_json()).unwrap(), bundle);
        assert_eq!(
            Bundle::from_json(&bundle.to_canonical_json()).unwrap(),
            bundle
        );
    }

    #[test]
    fn unknown_fields_are_refused_at_every_level() {
        let mut tree = sorted_value(&starfleet_bundle()).unwrap();
        tree["gateways"][0]["routes"][0]["admission"][0]["surprise"] = Value::Bool(true);
        assert!(serde_json::from_value::<Bundle>(tree).is_err());
        let mut tree = sorted_value(&starfleet_bundle()).unwrap();
        tree["surprise"] = Value::Bool(true);
        assert!(serde_json::from_value::<Bundle>(tree).is_err());
    }
}
