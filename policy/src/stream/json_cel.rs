//! JSON record values straight into CEL values, and CEL results back out as record bytes.
//!
//! Parsing goes directly from the record's bytes to cel's `Val` tree, borrowing every string that
//! needs no unescaping: no intermediate `serde_json::Value`, and no copy of most strings. Numbers
//! without a fraction become `int` (or `uint` past `i64`), so `event.value.count == 3` reads as
//! written.

use std::collections::HashMap;
use std::fmt;

use cel::common::types::{
    CelBool, CelBytes, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt,
};
use cel::common::value::Val;
use cel::objects::Key;
use cel::Value;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A boxed CEL value that may borrow from the bytes it was parsed from.
pub type BoxedVal<'a> = Box<dyn Val + 'a>;

/// Parses a JSON document into a CEL value borrowing from `bytes`.
pub fn parse_json(bytes: &[u8]) -> Result<BoxedVal<'_>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = ValSeed.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

struct ValSeed;

impl<'de> DeserializeSeed<'de> for ValSeed {
    type Value = BoxedVal<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(ValVisitor)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = BoxedVal<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Box::new(CelBool::from(value)))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Box::new(CelInt::from(value)))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(match i64::try_from(value) {
            Ok(signed) => Box::new(CelInt::from(signed)),
            Err(_) => Box::new(CelUInt::from(value)),
        })
    }

    fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Box::new(CelDouble::from(value)))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Box::new(CelString::from(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Box::new(CelString::from(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(Box::new(CelString::from(value)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Box::new(CelNull))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(item) = seq.next_element_seed(ValSeed)? {
            items.push(item);
        }
        Ok(Box::new(CelList::from(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = HashMap::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(ValSeed)?;
            entries.insert(key, value);
        }
        Ok(Box::new(CelMap::from(entries)))
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = CelMapKey<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = CelMapKey<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object key")
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(CelMapKey::from(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(CelMapKey::from(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(CelMapKey::from(value))
    }
}

/// Wraps record bytes as a CEL value: `string` when they are UTF-8, `bytes` otherwise.
pub fn text_or_bytes(bytes: &[u8]) -> BoxedVal<'_> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Box::new(CelString::from(text)),
        Err(_) => Box::new(CelBytes::from(bytes)),
    }
}

/// Why a CEL result cannot become record bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {kind} cannot be written into a record: {reason}")]
pub struct OutputError {
    kind: String,
    reason: String,
}

/// Turns an expression's result into record bytes: strings and bytes as they are, `null` as no
/// bytes at all, numbers and booleans as their text, lists and maps as JSON.
pub fn record_bytes(value: &(dyn Val + '_)) -> Result<Option<Vec<u8>>, OutputError> {
    if let Some(text) = value.downcast_ref::<CelString>() {
        return Ok(Some(text.inner().as_bytes().to_vec()));
    }
    if let Some(bytes) = value.downcast_ref::<CelBytes>() {
        return Ok(Some(bytes.inner().to_vec()));
    }
    let kind = value.get_type().name().to_owned();
    let value = Value::try_from(value).map_err(|error| OutputError {
        kind: kind.clone(),
        reason: error.to_string(),
    })?;
    match value {
        Value::Null => Ok(None),
        other => {
            let json = to_json(&other).map_err(|reason| OutputError { kind, reason })?;
            Ok(Some(json.to_string().into_bytes()))
        }
    }
}

fn to_json(value: &Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
        Value::Int(number) => serde_json::Value::from(*number),
        Value::UInt(number) => serde_json::Value::from(*number),
        Value::Float(number) => serde_json::Number::from_f64(*number)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("{number} has no JSON form"))?,
        Value::String(text) => serde_json::Value::String(text.as_str().to_owned()),
        Value::Bytes(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::Value::String(text.to_owned()),
            Err(_) => return Err("bytes that are not UTF-8 have no JSON form".into()),
        },
        Value::List(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Result<Vec<_>, _>>()?)
        }
        Value::Map(map) => {
            // Sorted keys: the same record always becomes the same bytes.
            let mut entries = map
                .map
                .iter()
                .map(|(key, value)| Ok((json_key(key), to_json(value)?)))
                .collect::<Result<Vec<_>, String>>()?;
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().collect())
        }
        other => return Err(format!("{other:?} has no JSON form")),
    })
}

fn json_key(key: &Key) -> String {
    match key {
        Key::String(text) => text.as_str().to_owned(),
        Key::Int(number) => number.to_string(),
        Key::Uint(number) => number.to_string(),
        Key::Bool(flag) => flag.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of(json: &str) -> Value {
        let parsed = parse_json(json.as_bytes()).unwrap();
        Value::try_from(parsed.as_ref()).unwrap()
    }

    #[test]
    fn objects_arrays_and_scalars_become_cel_values() {
        let value = value_of(
            r#"{"severity":"red","count":3,"big":18446744073709551615,"ratio":0.5,"ok":true,"none":null,"tags":["a","b\"c"]}"#,
        );
        let Value::Map(map) = value else {
            panic!("not a map: {value:?}")
        };
        let get = |name: &str| {
            map.map
                .get(&Key::String(name.to_owned().into()))
                .unwrap()
                .clone()
        };
        assert_eq!(get("severity"), Value::String("red".to_owned().into()));
        assert_eq!(get("count"), Value::Int(3));
        assert_eq!(get("big"), Value::UInt(u64::MAX));
        assert_eq!(get("ratio"), Value::Float(0.5));
        assert_eq!(get("ok"), Value::Bool(true));
        assert_eq!(get("none"), Value::Null);
        assert_eq!(
            get("tags"),
            Value::List(
                vec![
                    Value::String("a".to_owned().into()),
                    Value::String("b\"c".to_owned().into())
                ]
                .into()
            )
        );
    }

    #[test]
    fn malformed_json_and_trailing_bytes_are_errors() {
        assert!(parse_json(b"{\"severity\":").is_err());
        assert!(parse_json(b"{} {}").is_err());
        assert!(parse_json(b"not json").is_err());
        assert!(parse_json(b"").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(parse_json(deep.as_bytes()).is_err());
    }

    #[test]
    fn utf8_becomes_a_string_and_other_bytes_stay_bytes() {
        assert_eq!(
            Value::try_from(text_or_bytes(b"plain").as_ref()).unwrap(),
            Value::String("plain".to_owned().into())
        );
        assert_eq!(
            Value::try_from(text_or_bytes(&[0xff, 0x00]).as_ref()).unwrap(),
            Value::Bytes(vec![0xff, 0x00].into())
        );
    }

    #[test]
    fn results_become_record_bytes() {
        let string = CelString::from("ncc-1701");
        assert_eq!(record_bytes(&string).unwrap(), Some(b"ncc-1701".to_vec()));
        assert_eq!(
            record_bytes(&CelInt::from(42)).unwrap(),
            Some(b"42".to_vec())
        );
        assert_eq!(record_bytes(&CelNull).unwrap(), None);
        let parsed = parse_json(br#"{"b":1,"a":[true,null]}"#).unwrap();
        assert_eq!(
            record_bytes(parsed.as_ref()).unwrap(),
            Some(br#"{"a":[true,null],"b":1}"#.to_vec())
        );
    }
}
