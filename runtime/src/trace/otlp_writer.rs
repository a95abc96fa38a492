//! Writes OTLP spans straight from the request's borrowed parts into a batch's protobuf buffer:
//! no span struct, no owned name or attribute, no second pass to size each message. A span's
//! body is written after a reserved three-byte header (its `ScopeSpans.spans` key and length),
//! which is fitted once the body's length is known; an attribute's or a status's length is
//! known before it is written, from the `&str`s it is made of. The batch's head (the resource
//! with `service.name`, the instrumentation scope) is encoded once per exporter
//! ([`BatchFrame`]) into room reserved at the front of every batch buffer, so a batch leaves
//! for the collector without being copied.
//!
//! The wire format is protobuf's (varint keys and lengths, fixed64 times, fixed32 flags), field
//! for field in the order prost writes them: the tests decode this output with the
//! prost-derived messages of [`super::otlp`], and the integration tests with the official
//! Python classes.

use super::context::TraceContext;
use super::span::{AttributeValue, Span, SpanKind, SpanStatus};
use crate::varint;

/// The instrumentation scope meshd's spans are reported under.
pub const SCOPE: &str = "meshd";

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;
/// A span's header as reserved before its body: a one-byte key and a two-byte length.
const SPAN_HEADER: usize = 3;
/// The buffer space made sure of when a span starts (a proxied request's span takes ~200).
const SPAN_ROOM: usize = 512;

/// How a span ended, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum SpanEnd<'a> {
    /// Nothing to say.
    Unset,
    /// Explicitly fine.
    Ok,
    /// Failed, with why.
    Error(&'a str),
}

/// One batch of encoded spans. Its buffer is initialised a little ahead of what is written
/// (never zero-filled whole), so a span is written with plain indexed stores, not a capacity
/// check per byte; its first [`BatchFrame::room`] bytes are kept for the batch's head.
#[derive(Debug, Default)]
pub struct SpanBatch {
    /// The buffer: reserved head room, then each span as a `ScopeSpans.spans` field, then
    /// initialised room for the next span up to its length.
    body: Vec<u8>,
    /// How much of `body` is written.
    used: usize,
    /// Spans written.
    pub spans: u32,
}

impl SpanBatch {
    /// An empty batch with `room` bytes kept for its head, allocated for `capacity` bytes.
    pub fn new(room: usize, capacity: usize) -> SpanBatch {
        let mut body = Vec::with_capacity(capacity.max(room + SPAN_ROOM));
        body.resize(room + SPAN_ROOM, 0);
        SpanBatch {
            body,
            used: room,
            spans: 0,
        }
    }

    /// Bytes written (head room included).
    pub fn len(&self) -> usize {
        self.used
    }

    /// Whether no span is written.
    pub fn is_empty(&self) -> bool {
        self.spans == 0
    }

    /// The written bytes, from `from`, as the buffer they are in (the batch is spent).
    pub fn into_bytes(mut self, from: usize) -> bytes::Bytes {
        self.body.truncate(self.used);
        bytes::Bytes::from(self.body).slice(from..)
    }

    /// Starts a span; its fields up to the end time are written now, attributes and the
    /// status follow through the returned writer.
    #[inline(always)]
    pub fn span(
        &mut self,
        context: &TraceContext,
        parent: Option<&[u8; 8]>,
        trace_state: &str,
        name: &[&str],
        kind: SpanKind,
        window: (u64, u64),
    ) -> SpanWriter<'_> {
        let start = self.used;
        let name_len: usize = name.iter().map(|part| part.len()).sum();
        let mut writer = SpanWriter {
            at: start,
            batch: self,
            start,
            flags: context.flags,
        };
        writer.ensure(SPAN_ROOM + trace_state.len() + name_len);
        let mut out = writer.cursor();
        out.at += SPAN_HEADER;
        let mut ids = [0u8; 28];
        ids[..2].copy_from_slice(&[key(1, LENGTH_DELIMITED), 16]);
        ids[2..18].copy_from_slice(&context.trace_id);
        ids[18..20].copy_from_slice(&[key(2, LENGTH_DELIMITED), 8]);
        ids[20..].copy_from_slice(&context.span_id);
        out.bytes(&ids);
        out.text(3, trace_state);
        if let Some(parent) = parent {
            let mut field = [key(4, LENGTH_DELIMITED), 8, 0, 0, 0, 0, 0, 0, 0, 0];
            field[2..].copy_from_slice(parent);
            out.bytes(&field);
        }
        if name_len > 0 {
            out.header(5, name_len);
            for part in name {
                out.text_bytes(part.as_bytes());
            }
        }
        let mut times = [0u8; 20];
        times[..3].copy_from_slice(&[key(6, VARINT), kind as u8, key(7, FIXED64)]);
        times[3..11].copy_from_slice(&window.0.to_le_bytes());
        times[11] = key(8, FIXED64);
        times[12..].copy_from_slice(&window.1.to_le_bytes());
        out.bytes(&times);
        writer.at = out.at;
        writer
    }

    /// Writes a finished [`Span`] (the paths that build one: mesh calls, stream rules).
    pub fn write(&mut self, span: &Span) {
        let mut writer = self.span(
            &span.context,
            span.parent.as_ref(),
            span.trace_state.as_deref().unwrap_or(""),
            &[&span.name],
            span.kind,
            (span.start_unix_nanos, span.end_unix_nanos),
        );
        for (name, value) in &span.attributes {
            match value {
                AttributeValue::Text(text) => writer.text(name, text),
                AttributeValue::Shared(text) => writer.text(name, text),
                AttributeValue::Int(n) => writer.int(name, *n),
                AttributeValue::Bool(b) => writer.flag(name, *b),
            }
        }
        writer.finish(match &span.status {
            SpanStatus::Unset => SpanEnd::Unset,
            SpanStatus::Ok => SpanEnd::Ok,
            SpanStatus::Error(message) => SpanEnd::Error(message),
        });
    }
}

/// A span being written: add attributes, then [`SpanWriter::finish`] it (a span dropped
/// unfinished is not part of the batch).
#[must_use = "a span is only counted and framed once finished"]
pub struct SpanWriter<'a> {
    batch: &'a mut SpanBatch,
    start: usize,
    at: usize,
    flags: u8,
}

impl SpanWriter<'_> {
    /// Makes sure `need` more bytes can be written: initialises the next [`SPAN_ROOM`] bytes
    /// past them when the initialised part is short (about every other span).
    #[inline(always)]
    fn ensure(&mut self, need: usize) {
        if self.at + need > self.batch.body.len() {
            grow(&mut self.batch.body, self.at + need);
        }
    }

    #[inline(always)]
    fn cursor(&mut self) -> Cursor<'_> {
        Cursor {
            buf: &mut self.batch.body,
            at: self.at,
        }
    }

    /// A text attribute (an empty text is still a value: written).
    #[inline(always)]
    pub fn text(&mut self, name: &str, value: &str) {
        self.text_parts(name, &[value]);
    }

    /// A text attribute made of `parts` end to end (`file:line:column`) without joining them.
    #[inline(always)]
    pub fn text_parts(&mut self, name: &str, parts: &[&str]) {
        let len: usize = parts.iter().map(|part| part.len()).sum();
        self.ensure(name.len() + len + ATTRIBUTE_FRAMING);
        let mut out = self.cursor();
        out.attribute_head(name, nested_len(len), [key(1, LENGTH_DELIMITED), len as u8]);
        if len >= 0x80 {
            out.at -= 1;
            out.varint(len as u64);
        }
        for part in parts {
            out.text_bytes(part.as_bytes());
        }
        self.at = out.at;
    }

    /// An integer attribute.
    #[inline(always)]
    pub fn int(&mut self, name: &str, value: i64) {
        self.ensure(name.len() + ATTRIBUTE_FRAMING + 10);
        let mut out = self.cursor();
        let value = value as u64;
        out.attribute_head(name, 1 + varint::len(value), [key(3, VARINT), value as u8]);
        if value >= 0x80 {
            out.at -= 1;
            out.varint(value);
        }
        self.at = out.at;
    }

    /// A boolean attribute.
    pub fn flag(&mut self, name: &str, value: bool) {
        self.ensure(name.len() + ATTRIBUTE_FRAMING + 2);
        let mut out = self.cursor();
        out.attribute_head(name, 2, [key(2, VARINT), u8::from(value)]);
        self.at = out.at;
    }

    /// Writes the status and flags, fits the span's header and counts it.
    #[inline(always)]
    pub fn finish(mut self, end: SpanEnd<'_>) {
        let (code, message) = match end {
            SpanEnd::Unset => (0, ""),
            SpanEnd::Ok => (1, ""),
            SpanEnd::Error(message) => (2, message),
        };
        self.ensure(message.len() + 24);
        let flags = self.flags;
        let mut out = self.cursor();
        // Field 16 (fixed32 flags) takes a two-byte key.
        let flags = [0x85, 0x01, flags, 0, 0, 0];
        if code == 0 {
            out.bytes(&[key(15, LENGTH_DELIMITED), 0]);
        } else {
            out.header(15, string_len(message) + 2);
            out.text(2, message);
            out.bytes(&[key(3, VARINT), code]);
        }
        out.bytes(&flags);
        let end = out.at;
        self.batch.used = fit_header(&mut self.batch.body, self.start, end);
        self.batch.spans += 1;
    }
}

/// Framing bytes of one attribute besides its name and value, at most (three keys, three
/// lengths of up to three bytes, the value's key).
const ATTRIBUTE_FRAMING: usize = 16;

#[inline(never)]
fn grow(body: &mut Vec<u8>, need: usize) {
    body.resize(need + SPAN_ROOM, 0);
}

/// Replaces the reserved header at `start` by the span's real one, moving the body when the
/// header is shorter (a body under 128 bytes) or longer (16 KiB and more) than reserved;
/// returns where the span ends.
#[inline(never)]
fn fit_header(out: &mut Vec<u8>, start: usize, end: usize) -> usize {
    let body = start + SPAN_HEADER;
    let len = end - body;
    let mut head = [0u8; 11];
    head[0] = key(2, LENGTH_DELIMITED);
    let head_len = 1 + varint::write_into(&mut head[1..], len as u64);
    match head_len.cmp(&SPAN_HEADER) {
        std::cmp::Ordering::Equal => {}
        std::cmp::Ordering::Less => out.copy_within(body..end, start + head_len),
        std::cmp::Ordering::Greater => {
            let grown = head_len - SPAN_HEADER;
            if end + grown > out.len() {
                grow(out, end + grown);
            }
            out.copy_within(body..end, start + head_len);
        }
    }
    out[start..start + head_len].copy_from_slice(&head[..head_len]);
    start + head_len + len
}

/// Indexed writes into a buffer made big enough beforehand (bounds-checked, never growing).
struct Cursor<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Cursor<'_> {
    #[inline(always)]
    fn byte(&mut self, byte: u8) {
        self.buf[self.at] = byte;
        self.at += 1;
    }

    #[inline(always)]
    fn bytes(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    /// Copies text of any length; names and most values are short, and two overlapping
    /// fixed-size moves copy them cheaper than a call to `memcpy`.
    #[inline(always)]
    fn text_bytes(&mut self, text: &[u8]) {
        let (at, n) = (self.at, text.len());
        match n {
            8..=16 => {
                self.buf[at..at + 8].copy_from_slice(&text[..8]);
                self.buf[at + n - 8..at + n].copy_from_slice(&text[n - 8..]);
            }
            4..=7 => {
                self.buf[at..at + 4].copy_from_slice(&text[..4]);
                self.buf[at + n - 4..at + n].copy_from_slice(&text[n - 4..]);
            }
            _ => self.buf[at..at + n].copy_from_slice(text),
        }
        self.at += n;
    }

    /// A varint; most are lengths under 128: one byte.
    #[inline(always)]
    fn varint(&mut self, value: u64) {
        if value < 0x80 {
            self.byte(value as u8);
        } else {
            self.at += varint::write_into(&mut self.buf[self.at..], value);
        }
    }

    #[inline(always)]
    fn header(&mut self, tag: u8, len: usize) {
        self.byte(key(tag, LENGTH_DELIMITED));
        self.varint(len as u64);
    }

    #[inline(always)]
    fn field(&mut self, tag: u8, bytes: &[u8]) {
        self.header(tag, bytes.len());
        self.bytes(bytes);
    }

    /// An optional string: absent when empty (proto3 leaves defaults out).
    #[inline(always)]
    fn text(&mut self, tag: u8, text: &str) {
        if !text.is_empty() {
            self.field(tag, text.as_bytes());
        }
    }

    /// A `KeyValue` attribute's key, length and name, its `AnyValue`'s key and length, and
    /// the value's first two bytes (its key, and its length or first varint byte). Names
    /// are short: when the lengths are under 128 (nearly always) each group of four framing
    /// bytes is one store.
    #[inline(always)]
    fn attribute_head(&mut self, name: &str, any_value_len: usize, value_head: [u8; 2]) {
        let key_value_len = nested_len(name.len()) + nested_len(any_value_len);
        if key_value_len < 0x80 && !name.is_empty() {
            let head = [
                key(9, LENGTH_DELIMITED),
                key_value_len as u8,
                key(1, LENGTH_DELIMITED),
                name.len() as u8,
            ];
            self.bytes(&head);
            self.text_bytes(name.as_bytes());
            self.bytes(&[
                key(2, LENGTH_DELIMITED),
                any_value_len as u8,
                value_head[0],
                value_head[1],
            ]);
        } else {
            self.header(9, string_len(name) + nested_len(any_value_len));
            self.text(1, name);
            self.header(2, any_value_len);
            self.bytes(&value_head);
        }
    }
}

/// The head every batch of one exporter starts with, encoded once: the resource (its
/// `service.name`) and the instrumentation scope; only the two enclosing lengths change.
#[derive(Debug, Clone)]
pub struct BatchFrame {
    /// `ResourceSpans.resource`, key and length included.
    resource: Vec<u8>,
    /// `ScopeSpans.scope`, key and length included.
    scope: Vec<u8>,
}

impl BatchFrame {
    /// The frame of batches reported as `service_name`.
    pub fn new(service_name: &str) -> BatchFrame {
        let mut attribute = Vec::new();
        write_string(&mut attribute, 1, "service.name");
        header(&mut attribute, 2, nested_len(service_name.len()));
        write_bytes(&mut attribute, 1, service_name.as_bytes());
        let mut resource = Vec::new();
        write_bytes(&mut resource, 1, &attribute);
        let mut framed_resource = Vec::new();
        write_bytes(&mut framed_resource, 1, &resource);
        let mut scope = Vec::new();
        write_string(&mut scope, 1, SCOPE);
        write_string(&mut scope, 2, env!("CARGO_PKG_VERSION"));
        let mut framed_scope = Vec::new();
        write_bytes(&mut framed_scope, 1, &scope);
        BatchFrame {
            resource: framed_resource,
            scope: framed_scope,
        }
    }

    /// The bytes kept at the front of every batch for its head (two lengths of at most ten
    /// bytes each, their two keys, the resource and the scope).
    pub fn room(&self) -> usize {
        2 * 11 + self.resource.len() + self.scope.len()
    }

    /// Writes the head of `batch` (made with [`Self::room`] bytes of room) and returns where the
    /// export request starts in its buffer.
    pub fn seal(&self, batch: &mut SpanBatch) -> usize {
        let room = self.room();
        let spans = batch.used - room;
        let scope_spans = self.scope.len() + spans;
        let resource_spans = self.resource.len() + nested_len(scope_spans);
        let mut head = Vec::with_capacity(room);
        header(&mut head, 1, resource_spans);
        head.extend_from_slice(&self.resource);
        header(&mut head, 2, scope_spans);
        head.extend_from_slice(&self.scope);
        let at = room - head.len();
        batch.body[at..room].copy_from_slice(&head);
        at
    }
}

/// Encodes `spans` as one export request from `service_name` (tests and tools; meshd's
/// request paths write into [`SpanBatch`]es).
pub fn encode_batch(service_name: &str, spans: &[Span]) -> Vec<u8> {
    let frame = BatchFrame::new(service_name);
    let mut batch = SpanBatch::new(frame.room(), 0);
    for span in spans {
        batch.write(span);
    }
    let at = frame.seal(&mut batch);
    batch.into_bytes(at).to_vec()
}

/// A length-delimited field's size with its one-byte key and its length.
#[inline(always)]
fn nested_len(len: usize) -> usize {
    1 + varint::len(len as u64) + len
}

/// An optional string's size: absent when empty (proto3 leaves defaults out).
#[inline(always)]
fn string_len(text: &str) -> usize {
    if text.is_empty() {
        0
    } else {
        nested_len(text.len())
    }
}

#[inline(always)]
fn write_string(out: &mut Vec<u8>, tag: u8, text: &str) {
    if !text.is_empty() {
        write_bytes(out, tag, text.as_bytes());
    }
}

#[inline(always)]
fn write_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    header(out, tag, bytes.len());
    out.extend_from_slice(bytes);
}

#[inline(always)]
fn header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(key(tag, LENGTH_DELIMITED));
    varint::put(out, len as u64);
}

/// A field's key (tags below 16: one byte).
const fn key(tag: u8, wire_type: u8) -> u8 {
    tag << 3 | wire_type
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::super::otlp::{self, ExportTraceServiceRequest};
    use super::*;

    fn spans() -> Vec<Span> {
        let context = TraceContext::start(true);
        let mut root = Span::ended_now(context, None, "GET officers".into(), SpanKind::Server, 1);
        root.set("http.response.status_code", 503_i64);
        root.set("meshwork.gateway", "edge");
        root.set("empty", "");
        root.set("negative", -3_i64);
        root.set("flag", true);
        root.set("long", "p".repeat(200));
        root.status = SpanStatus::Error("x".repeat(300));
        root.trace_state = Some("vendor=x".into());
        let mut child = Span::ended_now(
            context.child(),
            Some(context.span_id),
            "forward crew".into(),
            SpanKind::Client,
            2,
        );
        child.status = SpanStatus::Ok;
        let mut huge = Span::ended_now(
            context.child(),
            None,
            "h".repeat(20_000),
            SpanKind::Internal,
            3,
        );
        huge.set("a", false);
        let bare = Span::ended_now(context.child(), None, String::new(), SpanKind::Internal, 4);
        vec![root, child, huge, bare]
    }

    #[test]
    fn the_direct_encoding_is_the_messages_encoding() {
        let spans = spans();
        let direct = encode_batch("meshd", &spans);
        let derived = otlp::encode_batch("meshd", &spans);
        assert_eq!(
            ExportTraceServiceRequest::decode(&direct[..]).unwrap(),
            ExportTraceServiceRequest::decode(&derived[..]).unwrap()
        );
        assert_eq!(direct, derived, "byte for byte, field order included");
    }

    #[test]
    fn spans_written_from_parts_are_the_spans_written_from_structs() {
        let context = TraceContext::start(true);
        let mut span =
            Span::ended_now(context, Some([9; 8]), "GET all".into(), SpanKind::Server, 5);
        span.end_unix_nanos = 8;
        span.set("url.path", "/officers/7");
        span.set("meshwork.denial.source", "a.mesh:3:14");
        span.status = SpanStatus::Error("no key".into());
        let frame = BatchFrame::new("edge");
        let mut batch = SpanBatch::new(frame.room(), 64);
        let mut writer = batch.span(
            &context,
            Some(&[9; 8]),
            "",
            &["GET", " ", "all"],
            SpanKind::Server,
            (5, 8),
        );
        writer.text("url.path", "/officers/7");
        writer.text_parts("meshwork.denial.source", &["a.mesh", ":", "3", ":", "14"]);
        writer.finish(SpanEnd::Error("no key"));
        let at = frame.seal(&mut batch);
        assert_eq!(batch.spans, 1);
        assert_eq!(
            &batch.into_bytes(at)[..],
            &otlp::encode_batch("edge", &[span])[..]
        );
    }
}
