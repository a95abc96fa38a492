//! What a topic schema says about one place in a record, as far as the compiler can read it
//! without evaluating the schema: the properties an object has, the JSON types a value may take,
//! its `enum`/`const` values. Anything the reader cannot decide (`anyOf`, `patternProperties`, a
//! reference outside the file) is [`Child::Open`] or an unknown type, never a false alarm.

use serde_json::{Map, Value};

/// Where a record field leads in the schema.
#[derive(Debug)]
pub enum Child<'d> {
    /// The schema describes the field; its subschema's JSON pointer.
    Known(String),
    /// The object lists its properties and this is not one of them.
    Missing {
        /// The pointer of the object's `properties`.
        properties: String,
        /// The property names it has.
        known: Vec<&'d str>,
    },
    /// The schema leaves the field open (or cannot be read here).
    Open,
}

/// The largest chain of local `$ref`s followed (a cycle ends the walk as open).
const MAX_REFS: usize = 16;

/// The subschema at `pointer`, following local `$ref`s (`#/...`); `None` for a reference the
/// compiler cannot follow.
pub fn resolve<'d>(document: &'d Value, pointer: &str) -> Option<(&'d Value, String)> {
    let mut pointer = pointer.to_owned();
    let mut node = document.pointer(&pointer)?;
    for _ in 0..MAX_REFS {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            return Some((node, pointer));
        };
        let target = reference.strip_prefix('#')?;
        pointer = target.to_owned();
        node = document.pointer(target)?;
    }
    None
}

/// The subschema of property `field` of the object described at `pointer`.
pub fn child<'d>(document: &'d Value, pointer: &str, field: &str) -> Child<'d> {
    let Some((node, pointer)) = resolve(document, pointer) else {
        return Child::Open;
    };
    let Some(object) = node.as_object() else {
        return Child::Open;
    };
    let Some(properties) = object.get("properties").and_then(Value::as_object) else {
        return Child::Open;
    };
    if properties.contains_key(field) {
        return Child::Known(format!("{pointer}/properties/{}", escape(field)));
    }
    if is_open(object) {
        return Child::Open;
    }
    Child::Missing {
        properties: format!("{pointer}/properties"),
        known: properties.keys().map(String::as_str).collect(),
    }
}

/// True when the object may hold properties it does not list in a way the compiler cannot
/// follow: combinators, pattern properties, or additional/unevaluated properties given a schema.
fn is_open(object: &Map<String, Value>) -> bool {
    let permissive = |key: &str| {
        object
            .get(key)
            .is_some_and(|v| v.is_object() || v == &Value::Bool(true))
    };
    [
        "allOf",
        "anyOf",
        "oneOf",
        "patternProperties",
        "dependentSchemas",
        "if",
    ]
    .iter()
    .any(|k| object.contains_key(*k))
        || permissive("additionalProperties")
        || permissive("unevaluatedProperties")
}

/// The JSON types the subschema at `pointer` allows (`string`, `number`, `integer`, `boolean`,
/// `null`, `object`, `array`), from `type` or else from `enum`/`const`; empty when unknown.
pub fn types(document: &Value, pointer: &str) -> Vec<&'static str> {
    let Some((node, _)) = resolve(document, pointer) else {
        return Vec::new();
    };
    let named = |name: &str| -> Option<&'static str> {
        [
            "string", "number", "integer", "boolean", "null", "object", "array",
        ]
        .into_iter()
        .find(|t| *t == name)
    };
    match node.get("type") {
        Some(Value::String(t)) => return named(t).into_iter().collect(),
        Some(Value::Array(ts)) => {
            return ts
                .iter()
                .filter_map(|t| t.as_str().and_then(named))
                .collect()
        }
        _ => {}
    }
    let mut out: Vec<&'static str> = allowed_values(document, pointer)
        .unwrap_or_default()
        .iter()
        .map(json_type)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The values `enum` or `const` allow at `pointer`, if the schema limits them.
pub fn allowed_values(document: &Value, pointer: &str) -> Option<Vec<Value>> {
    let (node, _) = resolve(document, pointer)?;
    if let Some(value) = node.get("const") {
        return Some(vec![value.clone()]);
    }
    node.get("enum").and_then(Value::as_array).cloned()
}

/// The JSON type of a value (`integer` for whole numbers).
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One JSON pointer segment, escaped (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log() -> Value {
        json!({
            "type": "object",
            "properties": {
                "severity": {"$ref": "#/$defs/severity"},
                "stardate": {"type": "number"},
                "crew": {"type": "object", "additionalProperties": {"type": "string"}}
            },
            "$defs": {"severity": {"enum": ["green", "red"]}}
        })
    }

    #[test]
    fn fields_resolve_through_local_references() {
        let doc = log();
        let Child::Known(at) = child(&doc, "", "severity") else {
            panic!()
        };
        assert_eq!(at, "/properties/severity");
        assert_eq!(types(&doc, &at), vec!["string"]);
        assert_eq!(
            allowed_values(&doc, &at),
            Some(vec![json!("green"), json!("red")])
        );
        assert_eq!(types(&doc, "/properties/stardate"), vec!["number"]);
    }

    #[test]
    fn a_listed_object_misses_unknown_fields_and_an_open_one_does_not() {
        let doc = log();
        match child(&doc, "", "severty") {
            Child::Missing { properties, known } => {
                assert_eq!(properties, "/properties");
                assert!(known.contains(&"severity"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            child(&doc, "/properties/crew", "picard"),
            Child::Open
        ));
        assert!(matches!(child(&json!({"anyOf": []}), "", "x"), Child::Open));
    }
}
