//! Turns a map key into the string a JSON object key must be, accepting exactly the keys
//! `serde_json::to_value` accepts and spelling them the same way (`1`, `true`, `c`, `Variant`).

use std::borrow::Cow;

use serde::ser::{self, Impossible, Serialize};

use super::CanonicalJsonError;

/// Serializes a map key to its object-key text.
pub(super) struct MapKeySerializer;

type KeyResult = Result<Cow<'static, str>, CanonicalJsonError>;

/// Numbers are spelled by `serde_json` itself, so `1.5f32` reads `1.5` as it does there.
fn number<T: Serialize>(value: T) -> KeyResult {
    serde_json::to_string(&value)
        .map(Cow::Owned)
        .map_err(CanonicalJsonError::Scalar)
}

fn not_a_string(kind: &'static str) -> CanonicalJsonError {
    CanonicalJsonError::KeyMustBeAString(kind)
}

impl ser::Serializer for MapKeySerializer {
    type Ok = Cow<'static, str>;
    type Error = CanonicalJsonError;
    type SerializeSeq = Impossible<Cow<'static, str>, CanonicalJsonError>;
    type SerializeTuple = Impossible<Cow<'static, str>, CanonicalJsonError>;
    type SerializeTupleStruct = Impossible<Cow<'static, str>, CanonicalJsonError>;
    type SerializeTupleVariant = Impossible<Cow<'static, str>, CanonicalJsonError>;
    type SerializeMap = Impossible<Cow<'static, str>, CanonicalJsonError>;
    type SerializeStruct = Impossible<Cow<'static, str>, CanonicalJsonError>;
    type SerializeStructVariant = Impossible<Cow<'static, str>, CanonicalJsonError>;

    fn serialize_bool(self, v: bool) -> KeyResult {
        Ok(Cow::Borrowed(if v { "true" } else { "false" }))
    }
    fn serialize_i8(self, v: i8) -> KeyResult {
        number(v)
    }
    fn serialize_i16(self, v: i16) -> KeyResult {
        number(v)
    }
    fn serialize_i32(self, v: i32) -> KeyResult {
        number(v)
    }
    fn serialize_i64(self, v: i64) -> KeyResult {
        number(v)
    }
    fn serialize_i128(self, v: i128) -> KeyResult {
        number(v)
    }
    fn serialize_u8(self, v: u8) -> KeyResult {
        number(v)
    }
    fn serialize_u16(self, v: u16) -> KeyResult {
        number(v)
    }
    fn serialize_u32(self, v: u32) -> KeyResult {
        number(v)
    }
    fn serialize_u64(self, v: u64) -> KeyResult {
        number(v)
    }
    fn serialize_u128(self, v: u128) -> KeyResult {
        number(v)
    }
    /// Kept as `f32` (unlike values, keys are not widened), as `serde_json` does.
    fn serialize_f32(self, v: f32) -> KeyResult {
        if v.is_finite() {
            number(v)
        } else {
            Err(CanonicalJsonError::FloatKeyMustBeFinite)
        }
    }
    fn serialize_f64(self, v: f64) -> KeyResult {
        if v.is_finite() {
            number(v)
        } else {
            Err(CanonicalJsonError::FloatKeyMustBeFinite)
        }
    }
    fn serialize_char(self, v: char) -> KeyResult {
        Ok(Cow::Owned(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> KeyResult {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn serialize_bytes(self, _v: &[u8]) -> KeyResult {
        Err(not_a_string("bytes"))
    }
    fn serialize_none(self) -> KeyResult {
        Err(not_a_string("none"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> KeyResult {
        Err(not_a_string("an option"))
    }
    fn serialize_unit(self) -> KeyResult {
        Err(not_a_string("unit"))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> KeyResult {
        Err(not_a_string("a unit struct"))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> KeyResult {
        Ok(Cow::Borrowed(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> KeyResult {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> KeyResult {
        Err(not_a_string("an enum variant with data"))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, CanonicalJsonError> {
        Err(not_a_string("a sequence"))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, CanonicalJsonError> {
        Err(not_a_string("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, CanonicalJsonError> {
        Err(not_a_string("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, CanonicalJsonError> {
        Err(not_a_string("an enum variant with data"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, CanonicalJsonError> {
        Err(not_a_string("a map"))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, CanonicalJsonError> {
        Err(not_a_string("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, CanonicalJsonError> {
        Err(not_a_string("an enum variant with data"))
    }
}
