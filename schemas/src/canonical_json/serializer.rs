//! A `serde::Serializer` that writes canonical JSON text straight from `Serialize`, with no
//! `serde_json::Value` tree in between.
//!
//! Values are written in the order serde hands them over. An object's entries go straight into
//! the output too, each one remembered as (key, byte range); when the object ends, the entries are
//! rewritten in key order only if they did not arrive sorted. Nested objects end before their
//! parent does, so one stack of entries and one scratch buffer serve every object, and writing a
//! bundle allocates little beyond the output itself.
//!
//! The text is exactly what `serde_json::to_value` + [`super::sort_keys`] + `serde_json`'s
//! printers produce, including the corners: duplicate keys keep the last value, non-string map
//! keys become strings the way `serde_json` turns them, `f32` is widened to `f64`, 128-bit
//! integers must fit 64 bits, and non-finite floats are `null`.

use std::borrow::Cow;

use serde::ser::{self, Serialize};

use super::map_key::MapKeySerializer;
use super::{CanonicalJsonError, Layout};

/// Spaces per nesting level in [`Layout::Pretty`], as `serde_json::to_string_pretty` indents.
const INDENT: &[u8] = b"  ";

/// The text being written and the bookkeeping shared by every nested object.
pub(super) struct Output {
    /// The JSON text so far.
    pub(super) bytes: Vec<u8>,
    layout: Layout,
    /// Entries of the objects still open, innermost last; each open object knows where its own begin.
    entries: Vec<Entry>,
    /// Holds an object's body while its entries are rewritten in key order.
    scratch: Vec<u8>,
    /// The next bytes are canonical text printed already, written as they are (see
    /// [`RawText`]).
    raw_next: bool,
}

/// Canonical text printed already (compact, by this serializer), written into the output as it
/// is: how text printed on another thread joins the document. Only [`Layout::Compact`] text
/// can be joined so, since it does not depend on how deep it sits.
pub(super) struct RawText<'a>(pub(super) &'a [u8]);

/// The newtype name by which [`RawText`] tells this serializer apart.
const RAW_TEXT: &str = "$meshwork::canonical_json::RawText";

impl Serialize for RawText<'_> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(RAW_TEXT, &Bytes(self.0))
    }
}

/// Bytes that serialize as bytes (a `&[u8]` serializes as a sequence).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// One `"key":value` already written into [`Output::bytes`].
struct Entry {
    key: Cow<'static, str>,
    /// The key's first 8 bytes, big-endian and zero-padded: orders most pairs of keys without
    /// comparing the strings (see [`Entry::cmp_keys`]).
    key_prefix: u64,
    /// Byte range of the entry (key, colon and value; no separator or indentation).
    start: usize,
    end: usize,
}

impl Entry {
    fn new(key: Cow<'static, str>, start: usize, end: usize) -> Self {
        let mut prefix = [0u8; 8];
        let head = &key.as_bytes()[..key.len().min(8)];
        prefix[..head.len()].copy_from_slice(head);
        Entry {
            key_prefix: u64::from_be_bytes(prefix),
            key,
            start,
            end,
        }
    }

    /// Byte order of the keys. Two different prefixes order their keys the same way (padding
    /// with zeros never inverts an order), so the strings are compared only on a tie.
    fn cmp_keys(&self, other: &Entry) -> std::cmp::Ordering {
        self.key_prefix
            .cmp(&other.key_prefix)
            .then_with(|| self.key.cmp(&other.key))
    }
}

impl Output {
    /// An empty output laid out as `layout`, with room for `capacity` bytes.
    pub(super) fn new(layout: Layout, capacity: usize) -> Self {
        Output {
            bytes: Vec::with_capacity(capacity),
            layout,
            entries: Vec::new(),
            scratch: Vec::new(),
            raw_next: false,
        }
    }

    fn pretty(&self) -> bool {
        self.layout == Layout::Pretty
    }

    /// Starts the next item of an array or object whose contents sit at `depth`.
    fn item_separator(&mut self, first: bool, depth: usize) {
        push_separator(&mut self.bytes, self.layout, first, depth);
    }

    /// (Pretty only) a new line indented to `depth`.
    fn line_break(&mut self, depth: usize) {
        push_line_break(&mut self.bytes, self.layout, depth);
    }

    /// Writes `"key":` (pretty: `"key": `).
    fn key(&mut self, key: &str) -> Result<(), CanonicalJsonError> {
        write_scalar(&mut self.bytes, key)?;
        self.bytes
            .extend_from_slice(if self.pretty() { b": " } else { b":" });
        Ok(())
    }

    /// Opens the `{"variant": …}` wrapper serde uses for enum variants with data.
    fn open_variant(
        &mut self,
        variant: &'static str,
        depth: usize,
    ) -> Result<(), CanonicalJsonError> {
        self.bytes.push(b'{');
        self.line_break(depth + 1);
        self.key(variant)
    }

    /// Closes what [`Output::open_variant`] opened.
    fn close_variant(&mut self, depth: usize) {
        self.line_break(depth);
        self.bytes.push(b'}');
    }
}

/// Writes one scalar (number, bool, string) exactly as `serde_json` prints it.
fn write_scalar<T: Serialize + ?Sized>(
    bytes: &mut Vec<u8>,
    value: &T,
) -> Result<(), CanonicalJsonError> {
    serde_json::to_writer(bytes, value).map_err(CanonicalJsonError::Scalar)
}

/// Serializes one value whose own contents (if it has any) sit at nesting level `depth + 1`.
pub(super) struct ValueSerializer<'o> {
    pub(super) out: &'o mut Output,
    pub(super) depth: usize,
}

impl<'o> ValueSerializer<'o> {
    fn scalar<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CanonicalJsonError> {
        write_scalar(&mut self.out.bytes, value)
    }

    fn null(self) -> Result<(), CanonicalJsonError> {
        self.out.bytes.extend_from_slice(b"null");
        Ok(())
    }

    fn array(self, variant: Option<&'static str>) -> Result<ArrayWriter<'o>, CanonicalJsonError> {
        let depth = match variant {
            Some(name) => {
                self.out.open_variant(name, self.depth)?;
                self.depth + 1
            }
            None => self.depth,
        };
        self.out.bytes.push(b'[');
        Ok(ArrayWriter {
            out: self.out,
            depth,
            first: true,
            variant: variant.is_some(),
        })
    }

    fn object(self, variant: Option<&'static str>) -> Result<ObjectWriter<'o>, CanonicalJsonError> {
        let depth = match variant {
            Some(name) => {
                self.out.open_variant(name, self.depth)?;
                self.depth + 1
            }
            None => self.depth,
        };
        self.out.bytes.push(b'{');
        Ok(ObjectWriter {
            entries_base: self.out.entries.len(),
            body_start: self.out.bytes.len(),
            out: self.out,
            depth,
            pending_key: None,
            variant: variant.is_some(),
        })
    }
}

/// Writes an array's elements as they come.
pub(super) struct ArrayWriter<'o> {
    out: &'o mut Output,
    depth: usize,
    first: bool,
    /// Inside a `{"variant": […]}` wrapper (tuple variants).
    variant: bool,
}

impl ArrayWriter<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalJsonError> {
        self.out.item_separator(self.first, self.depth + 1);
        self.first = false;
        value.serialize(ValueSerializer {
            out: self.out,
            depth: self.depth + 1,
        })
    }

    fn finish(self) -> Result<(), CanonicalJsonError> {
        if !self.first {
            self.out.line_break(self.depth);
        }
        self.out.bytes.push(b']');
        if self.variant {
            self.out.close_variant(self.depth - 1);
        }
        Ok(())
    }
}

/// Writes an object's entries as they come and puts them in key order when it ends.
pub(super) struct ObjectWriter<'o> {
    out: &'o mut Output,
    depth: usize,
    /// This object's first entry in [`Output::entries`].
    entries_base: usize,
    /// Where this object's body begins in [`Output::bytes`] (just after `{`).
    body_start: usize,
    /// A map key waiting for its value.
    pending_key: Option<Cow<'static, str>>,
    /// Inside a `{"variant": {…}}` wrapper (struct variants).
    variant: bool,
}

impl ObjectWriter<'_> {
    fn entry<T: Serialize + ?Sized>(
        &mut self,
        key: Cow<'static, str>,
        value: &T,
    ) -> Result<(), CanonicalJsonError> {
        let first = self.out.entries.len() == self.entries_base;
        self.out.item_separator(first, self.depth + 1);
        let start = self.out.bytes.len();
        self.out.key(&key)?;
        value.serialize(ValueSerializer {
            out: self.out,
            depth: self.depth + 1,
        })?;
        let end = self.out.bytes.len();
        self.out.entries.push(Entry::new(key, start, end));
        Ok(())
    }

    fn finish(self) -> Result<(), CanonicalJsonError> {
        let out = self.out;
        let entries = &mut out.entries[self.entries_base..];
        let sorted = entries
            .windows(2)
            .all(|pair| pair[0].cmp_keys(&pair[1]).is_lt());
        if !sorted {
            // Stable, so among equal keys the last one written is last: that is the one a
            // `serde_json::Map` keeps.
            entries.sort_by(Entry::cmp_keys);
            let layout = out.layout;
            if entries
                .windows(2)
                .any(|pair| pair[0].cmp_keys(&pair[1]).is_eq())
            {
                rewrite_keeping_last(
                    &mut out.bytes,
                    &mut out.scratch,
                    entries,
                    self.body_start,
                    layout,
                    self.depth + 1,
                );
            } else {
                permute_in_place(
                    &mut out.bytes,
                    &mut out.scratch,
                    entries,
                    layout,
                    self.depth + 1,
                );
            }
        }
        let empty = entries.is_empty();
        out.entries.truncate(self.entries_base);
        if !empty {
            out.line_break(self.depth);
        }
        out.bytes.push(b'}');
        if self.variant {
            out.close_variant(self.depth - 1);
        }
        Ok(())
    }
}

/// Puts an object's `entries` (sorted by key, no two alike; their contents at `depth`) in that
/// order in `bytes`, where they were written in the order of their `start`.
///
/// Entries already in their final place at either end are left alone, so a gateway's routes (the
/// bulk of a bundle, in the same place in both orders) are never copied. The others are rewritten
/// within the bytes they already cover: each entry keeps its length, and every separator between
/// two entries of one object is the same.
fn permute_in_place(
    bytes: &mut [u8],
    scratch: &mut Vec<u8>,
    entries: &[Entry],
    layout: Layout,
    depth: usize,
) {
    // Settled at the front: written before everything that sorts after it.
    let mut first_moved = entries.len();
    let mut earliest_after = usize::MAX;
    for (index, entry) in entries.iter().enumerate().rev() {
        if entry.start > earliest_after {
            first_moved = index;
        }
        earliest_after = earliest_after.min(entry.start);
    }
    // Settled at the back: written after everything that sorts before it.
    let mut last_moved = 0;
    let mut latest_before = 0;
    for (index, entry) in entries.iter().enumerate() {
        if index > 0 && entry.start < latest_before {
            last_moved = index;
        }
        latest_before = latest_before.max(entry.start);
    }
    let Some(moved) = entries.get(first_moved..=last_moved) else {
        return;
    };
    // The moved entries were written one after another, between the settled ones.
    let region_start = moved.iter().map(|e| e.start).min().unwrap_or(0);
    let region_end = moved.iter().map(|e| e.end).max().unwrap_or(0);
    scratch.clear();
    scratch.extend_from_slice(&bytes[region_start..region_end]);
    let separator_at = scratch.len();
    push_separator(scratch, layout, false, depth);
    let mut at = region_start;
    for (index, entry) in moved.iter().enumerate() {
        let mut put = |piece: &[u8]| {
            bytes[at..at + piece.len()].copy_from_slice(piece);
            at += piece.len();
        };
        if index > 0 {
            put(&scratch[separator_at..]);
        }
        put(&scratch[entry.start - region_start..entry.end - region_start]);
    }
    debug_assert_eq!(at, region_end, "a permutation keeps the object's length");
}

/// Rewrites an object's body (from `body_start`) with `entries` (sorted by key, some alike) in
/// order, dropping every entry a later one with the same key overwrote.
fn rewrite_keeping_last(
    bytes: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    entries: &[Entry],
    body_start: usize,
    layout: Layout,
    depth: usize,
) {
    scratch.clear();
    scratch.extend_from_slice(&bytes[body_start..]);
    bytes.truncate(body_start);
    let mut first = true;
    for (index, entry) in entries.iter().enumerate() {
        let overwritten = entries
            .get(index + 1)
            .is_some_and(|next| next.key == entry.key);
        if overwritten {
            continue;
        }
        push_separator(bytes, layout, first, depth);
        first = false;
        bytes.extend_from_slice(&scratch[entry.start - body_start..entry.end - body_start]);
    }
}

/// Starts the next item of an array or object whose contents sit at `depth`: a comma unless it is
/// the first, then (pretty) a new line indented to `depth`.
fn push_separator(bytes: &mut Vec<u8>, layout: Layout, first: bool, depth: usize) {
    if !first {
        bytes.push(b',');
    }
    push_line_break(bytes, layout, depth);
}

/// (Pretty only) a new line indented to `depth`.
fn push_line_break(bytes: &mut Vec<u8>, layout: Layout, depth: usize) {
    if layout == Layout::Pretty {
        bytes.push(b'\n');
        for _ in 0..depth {
            bytes.extend_from_slice(INDENT);
        }
    }
}

impl<'o> ser::Serializer for ValueSerializer<'o> {
    type Ok = ();
    type Error = CanonicalJsonError;
    type SerializeSeq = ArrayWriter<'o>;
    type SerializeTuple = ArrayWriter<'o>;
    type SerializeTupleStruct = ArrayWriter<'o>;
    type SerializeTupleVariant = ArrayWriter<'o>;
    type SerializeMap = ObjectWriter<'o>;
    type SerializeStruct = ObjectWriter<'o>;
    type SerializeStructVariant = ObjectWriter<'o>;

    fn serialize_bool(self, v: bool) -> Result<(), CanonicalJsonError> {
        self.scalar(&v)
    }
    fn serialize_i8(self, v: i8) -> Result<(), CanonicalJsonError> {
        self.scalar(&v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), CanonicalJsonError> {
        self.scalar(&v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), CanonicalJsonError> {
        self.scalar(&v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), CanonicalJsonError> {
        self.scalar(&v)
    }
    /// A JSON number only when it fits 64 bits, as `serde_json::Value` requires.
    fn serialize_i128(self, v: i128) -> Result<(), CanonicalJsonError> {
        if u64::try_from(v).is_ok() || i64::try_from(v).is_ok() {
            self.scalar(&v)
        } else {
            Err(CanonicalJsonError::NumberOutOfRange(v.to_string()))
        }
    }
    fn serialize_u8(self, v: u8) -> Result<(), CanonicalJsonError> {
        self.scalar(&v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), CanonicalJsonError> {
        self.scalar(&v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), CanonicalJsonError> {
        self.scalar(&v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), CanonicalJsonError> {
        self.scalar(&v)
    }
    /// A JSON number only when it fits 64 bits, as `serde_json::Value` requires.
    fn serialize_u128(self, v: u128) -> Result<(), CanonicalJsonError> {
        if u64::try_from(v).is_ok() {
            self.scalar(&v)
        } else {
            Err(CanonicalJsonError::NumberOutOfRange(v.to_string()))
        }
    }
    /// Widened to `f64` first: a `serde_json::Value` holds every float as `f64`.
    fn serialize_f32(self, v: f32) -> Result<(), CanonicalJsonError> {
        self.scalar(&f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), CanonicalJsonError> {
        self.scalar(&v)
    }
    fn serialize_char(self, v: char) -> Result<(), CanonicalJsonError> {
        self.scalar(&v)
    }
    fn serialize_str(self, v: &str) -> Result<(), CanonicalJsonError> {
        self.scalar(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), CanonicalJsonError> {
        if std::mem::take(&mut self.out.raw_next) {
            self.out.bytes.extend_from_slice(v);
            return Ok(());
        }
        let mut array = self.array(None)?;
        for byte in v {
            array.element(byte)?;
        }
        array.finish()
    }
    fn serialize_none(self) -> Result<(), CanonicalJsonError> {
        self.null()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CanonicalJsonError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), CanonicalJsonError> {
        self.null()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), CanonicalJsonError> {
        self.null()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), CanonicalJsonError> {
        self.scalar(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), CanonicalJsonError> {
        if name == RAW_TEXT {
            if self.out.layout != Layout::Compact {
                return Err(CanonicalJsonError::Custom(
                    "printed text joins compact documents only".to_string(),
                ));
            }
            self.out.raw_next = true;
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), CanonicalJsonError> {
        self.out.open_variant(variant, self.depth)?;
        value.serialize(ValueSerializer {
            out: self.out,
            depth: self.depth + 1,
        })?;
        self.out.close_variant(self.depth);
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<ArrayWriter<'o>, CanonicalJsonError> {
        self.array(None)
    }
    fn serialize_tuple(self, _len: usize) -> Result<ArrayWriter<'o>, CanonicalJsonError> {
        self.array(None)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<ArrayWriter<'o>, CanonicalJsonError> {
        self.array(None)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<ArrayWriter<'o>, CanonicalJsonError> {
        self.array(Some(variant))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<ObjectWriter<'o>, CanonicalJsonError> {
        self.object(None)
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<ObjectWriter<'o>, CanonicalJsonError> {
        self.object(None)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<ObjectWriter<'o>, CanonicalJsonError> {
        self.object(Some(variant))
    }
}

impl ser::SerializeSeq for ArrayWriter<'_> {
    type Ok = ();
    type Error = CanonicalJsonError;
    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CanonicalJsonError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CanonicalJsonError> {
        self.finish()
    }
}

impl ser::SerializeTuple for ArrayWriter<'_> {
    type Ok = ();
    type Error = CanonicalJsonError;
    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CanonicalJsonError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CanonicalJsonError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for ArrayWriter<'_> {
    type Ok = ();
    type Error = CanonicalJsonError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CanonicalJsonError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CanonicalJsonError> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for ArrayWriter<'_> {
    type Ok = ();
    type Error = CanonicalJsonError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CanonicalJsonError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CanonicalJsonError> {
        self.finish()
    }
}

impl ser::SerializeMap for ObjectWriter<'_> {
    type Ok = ();
    type Error = CanonicalJsonError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CanonicalJsonError> {
        self.pending_key = Some(key.serialize(MapKeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CanonicalJsonError> {
        let key = self
            .pending_key
            .take()
            .ok_or(CanonicalJsonError::ValueWithoutKey)?;
        self.entry(key, value)
    }
    fn end(self) -> Result<(), CanonicalJsonError> {
        self.finish()
    }
}

impl ser::SerializeStruct for ObjectWriter<'_> {
    type Ok = ();
    type Error = CanonicalJsonError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CanonicalJsonError> {
        self.entry(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), CanonicalJsonError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for ObjectWriter<'_> {
    type Ok = ();
    type Error = CanonicalJsonError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CanonicalJsonError> {
        self.entry(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), CanonicalJsonError> {
        self.finish()
    }
}
