//! The JSON Schema of the bundle: generated from the types with `schemars`, committed as
//! `schemas/bundle.schema.json`, and embedded here so readers validate against exactly that file.
//!
//! After changing a type, re-bless the committed file with
//! `MESHWORK_BLESS=1 cargo test -p meshwork-bundle schema` and review the diff.

use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::canonical_json::{sort_keys, to_pretty_text};
use crate::types::bundle::Bundle;

/// The committed `bundle.schema.json` (JSON Schema 2020-12), as text.
pub const BUNDLE_SCHEMA: &str = include_str!("../bundle.schema.json");

/// Generates the schema from the Rust types, keys sorted.
///
/// It describes bundles as written (the serialize contract), so every field is required:
/// optional values are present as `null`, which keeps the document's shape stable.
pub fn generate_schema() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<Bundle>().to_value();
    bound_u32(&mut schema);
    sort_keys(schema)
}

/// Gives every `uint32` its upper bound, as schemars gives `uint8` and `uint16` theirs: a
/// validator reads `format` as a note, so without `maximum` the schema would pass values the
/// bundle's types refuse (a source line of 2^32).
fn bound_u32(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str) == Some("uint32") {
                map.entry("maximum").or_insert(Value::from(u32::MAX));
            }
            map.values_mut().for_each(bound_u32);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_u32),
        _ => {}
    }
}

/// The generated schema as the committed file should read it (sorted keys, 2-space indent, final newline).
pub fn generate_schema_text() -> String {
    to_pretty_text(&generate_schema())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical_json::sorted_value;
    use crate::sample::starfleet_bundle;

    #[test]
    fn committed_schema_matches_the_types() {
        let generated = generate_schema_text();
        if std::env::var_os("MESHWORK_BLESS").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/bundle.schema.json");
            std::fs::write(path, &generated).unwrap();
            return;
        }
        assert!(
            BUNDLE_SCHEMA == generated,
            "schemas/bundle.schema.json is stale; re-bless with \
             `MESHWORK_BLESS=1 cargo test -p meshwork-bundle schema` and commit the diff"
        );
    }

    #[test]
    fn schema_is_json_schema_2020_12() {
        let schema: Value = serde_json::from_str(BUNDLE_SCHEMA).unwrap();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
    }

    fn assert_closed_objects(value: &Value, pointer: &str) {
        match value {
            Value::Object(map) => {
                if map.contains_key("properties") {
                    assert_eq!(
                        map.get("additionalProperties"),
                        Some(&Value::Bool(false)),
                        "object schema at {pointer} accepts unknown fields"
                    );
                }
                for (key, child) in map {
                    assert_closed_objects(child, &format!("{pointer}/{key}"));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    assert_closed_objects(child, &format!("{pointer}/{i}"));
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_object_in_the_schema_refuses_unknown_fields() {
        assert_closed_objects(&generate_schema(), "");
    }

    #[test]
    fn optional_fields_are_required_but_nullable() {
        let schema = generate_schema();
        let route_match = &schema["$defs"]["RouteMatch"];
        let required = route_match["required"].as_array().unwrap();
        assert!(required.contains(&Value::from("method")), "{route_match:#}");
        assert_eq!(
            route_match["properties"]["method"]["type"],
            serde_json::json!(["string", "null"])
        );
    }

    #[test]
    fn a_complete_bundle_is_valid_against_the_schema() {
        let schema: Value = serde_json::from_str(BUNDLE_SCHEMA).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let instance = sorted_value(&starfleet_bundle()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn the_schema_refuses_a_wrong_type_and_an_extra_field() {
        let schema: Value = serde_json::from_str(BUNDLE_SCHEMA).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut instance = sorted_value(&starfleet_bundle()).unwrap();
        instance["services"][0]["timeout_ms"] = Value::from("2s");
        assert!(!validator.is_valid(&instance));
        let mut instance = sorted_value(&starfleet_bundle()).unwrap();
        instance["mesh"]["rules"][0]["extra"] = Value::from(1);
        assert!(!validator.is_valid(&instance));
    }
}
