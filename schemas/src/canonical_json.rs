//! Deterministic JSON text for bundles: keys sorted at every level, whatever the struct field
//! order and whether or not serde_json's `preserve_order` feature is on somewhere in the build.
//!
//! Bundles are written by a serializer that streams straight from `Serialize`
//! ([`to_canonical_vec`]); a 10 000-route bundle is 8 MB of JSON, and going through a
//! `serde_json::Value` tree cost millions of small allocations. [`sorted_value`] and
//! [`sort_keys`] still build such a tree for callers that want one (the JSON Schema is a `Value`);
//! both paths print byte-identical text, which the tests check.

mod bundle_view;
#[cfg(test)]
mod equivalence_tests;
mod gateway_view;
mod map_key;
mod serializer;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::types::bundle::Bundle;
use bundle_view::BundleView;
use serializer::{Output, ValueSerializer};

/// How canonical text is laid out; the keys are sorted either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// No whitespace at all: the form the digest is taken over.
    Compact,
    /// 2-space indentation as `serde_json::to_string_pretty` prints, no final newline.
    Pretty,
}

/// Why a value has no canonical JSON form. Bundle types never produce these.
#[derive(Debug, thiserror::Error)]
pub enum CanonicalJsonError {
    /// A map key that JSON cannot spell as a string (a sequence, a struct, `None`, …).
    #[error("a map key must be a string, a number, a bool or a char, not {0}")]
    KeyMustBeAString(&'static str),
    /// A floating-point map key that is NaN or infinite.
    #[error("a floating-point map key must be finite")]
    FloatKeyMustBeFinite,
    /// A 128-bit integer beyond the 64-bit range JSON numbers are held in.
    #[error("the integer {0} does not fit in 64 bits")]
    NumberOutOfRange(String),
    /// A `Serialize` impl wrote a map value before its key (a bug in that impl).
    #[error("a map value was serialized before its key")]
    ValueWithoutKey,
    /// `serde_json` refused to print a scalar.
    #[error("could not print a JSON scalar: {0}")]
    Scalar(#[source] serde_json::Error),
    /// A `Serialize` impl reported its own error.
    #[error("{0}")]
    Custom(String),
}

impl serde::ser::Error for CanonicalJsonError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        CanonicalJsonError::Custom(msg.to_string())
    }
}

/// Writes `value` as canonical JSON: object keys in byte order at every level, strings escaped as
/// `serde_json` escapes them, laid out as `layout`. `capacity` is a hint for the output's size.
pub fn to_canonical_vec<T: Serialize + ?Sized>(
    value: &T,
    layout: Layout,
    capacity: usize,
) -> Result<Vec<u8>, CanonicalJsonError> {
    let mut output = Output::new(layout, capacity);
    value.serialize(ValueSerializer {
        out: &mut output,
        depth: 0,
    })?;
    Ok(output.bytes)
}

/// [`to_canonical_vec`] as a `String`.
pub fn to_canonical_string<T: Serialize + ?Sized>(
    value: &T,
    layout: Layout,
) -> Result<String, CanonicalJsonError> {
    let bytes = to_canonical_vec(value, layout, 0)?;
    Ok(String::from_utf8(bytes)
        .expect("the canonical serializer writes only UTF-8 (str contents, ASCII punctuation)"))
}

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

/// Bytes of canonical JSON per route, measured on generated bundles; sizes the first allocation.
const COMPACT_BYTES_PER_ROUTE: usize = 1_100;

/// Writes `bundle` as canonical bytes with `digest` in place of its own digest, the first
/// allocation sized from its route count.
pub(crate) fn bundle_bytes(bundle: &Bundle, digest: &str, layout: Layout) -> Vec<u8> {
    let per_route = match layout {
        Layout::Compact => COMPACT_BYTES_PER_ROUTE,
        Layout::Pretty => 5 * COMPACT_BYTES_PER_ROUTE / 2,
    };
    let capacity = 4096 + bundle.route_count() * per_route;
    to_canonical_vec(&BundleView::new(bundle, digest, layout), layout, capacity).expect(
        "bundle types have string keys, 32-bit numbers and derived Serialize impls, so they always serialize",
    )
}

impl Bundle {
    /// The canonical form: sorted keys at every level, no whitespace. The digest is taken over this.
    pub fn to_canonical_json(&self) -> String {
        String::from_utf8(bundle_bytes(self, &self.digest, Layout::Compact))
            .expect("the canonical serializer writes only UTF-8")
    }

    /// The form written to disk: sorted keys, 2-space indentation, a trailing newline.
    pub fn to_pretty_json(&self) -> String {
        let mut bytes = bundle_bytes(self, &self.digest, Layout::Pretty);
        bytes.push(b'\n');
        String::from_utf8(bytes).expect("the canonical serializer writes only UTF-8")
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
        let text = serde_json::to_string(&sort_keys(value.clone())).unwrap();
        assert_eq!(text, r#"{"a":null,"b":{"a":[{"x":0,"y":0}],"z":1}}"#);
        assert_eq!(to_canonical_string(&value, Layout::Compact).unwrap(), text);
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
