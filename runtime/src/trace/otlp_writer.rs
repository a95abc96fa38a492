//! Writes an OTLP `ExportTraceServiceRequest` straight from meshd's spans into one buffer:
//! every message's length is computed from the span's fields first, so nothing is built in
//! between (the prost-derived messages in [`super::otlp`] would copy every id, name and
//! attribute into owned structs before encoding them: several allocations per span, on a task
//! that shares the proxy's core). The wire format is protobuf's: varint keys and lengths,
//! fixed64 times, fixed32 flags; the field numbers are those of [`super::otlp`], and its tests
//! decode this output with the prost-derived messages, as the integration tests do with the
//! official Python classes.

use super::span::{AttributeValue, Span, SpanStatus};

/// The instrumentation scope meshd's spans are reported under.
pub const SCOPE: &str = "meshd";

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LENGTH_DELIMITED: u32 = 2;
const FIXED32: u32 = 5;

/// Encodes one batch of spans as an export request from `service_name`.
pub fn encode_batch(service_name: &str, spans: &[Span]) -> Vec<u8> {
    let service = key_value_len("service.name", &Text(service_name));
    let resource = nested_len(1, service);
    let scope = string_len(1, SCOPE) + string_len(2, env!("CARGO_PKG_VERSION"));
    let span_lens: Vec<usize> = spans.iter().map(span_len).collect();
    let scope_spans = nested_len(1, scope)
        + span_lens
            .iter()
            .map(|len| nested_len(2, *len))
            .sum::<usize>();
    let resource_spans = nested_len(1, resource) + nested_len(2, scope_spans);
    let mut out = Vec::with_capacity(nested_len(1, resource_spans));
    header(&mut out, 1, resource_spans);
    header(&mut out, 1, resource);
    header(&mut out, 1, service);
    write_key_value(&mut out, "service.name", &Text(service_name));
    header(&mut out, 2, scope_spans);
    header(&mut out, 1, scope);
    write_string(&mut out, 1, SCOPE);
    write_string(&mut out, 2, env!("CARGO_PKG_VERSION"));
    for (span, len) in spans.iter().zip(span_lens) {
        header(&mut out, 2, len);
        write_span(&mut out, span);
    }
    out
}

/// A text attribute value, borrowed (the service name).
struct Text<'a>(&'a str);

trait AttributeText {
    fn value(&self) -> ValueRef<'_>;
}

impl AttributeText for Text<'_> {
    fn value(&self) -> ValueRef<'_> {
        ValueRef::Text(self.0)
    }
}

impl AttributeText for AttributeValue {
    fn value(&self) -> ValueRef<'_> {
        match self {
            AttributeValue::Text(text) => ValueRef::Text(text),
            AttributeValue::Shared(text) => ValueRef::Text(text),
            AttributeValue::Int(n) => ValueRef::Int(*n),
            AttributeValue::Bool(b) => ValueRef::Bool(*b),
        }
    }
}

enum ValueRef<'a> {
    Text(&'a str),
    Int(i64),
    Bool(bool),
}

fn status_parts(status: &SpanStatus) -> (u64, &str) {
    match status {
        SpanStatus::Unset => (0, ""),
        SpanStatus::Ok => (1, ""),
        SpanStatus::Error(message) => (2, message),
    }
}

fn status_len(status: &SpanStatus) -> usize {
    let (code, message) = status_parts(status);
    string_len(2, message) + if code == 0 { 0 } else { 1 + varint_len(code) }
}

fn span_len(span: &Span) -> usize {
    let mut len = bytes_len(1, 16) + bytes_len(2, 8);
    len += string_len(3, span.trace_state.as_deref().unwrap_or(""));
    if span.parent.is_some() {
        len += bytes_len(4, 8);
    }
    len += string_len(5, &span.name);
    len += 1 + varint_len(span.kind as u64);
    len += 2 * (1 + 8);
    for (key, value) in &span.attributes {
        len += nested_len(9, key_value_len(key, value));
    }
    len += nested_len(15, status_len(&span.status));
    len + 2 + 4
}

fn write_span(out: &mut Vec<u8>, span: &Span) {
    write_bytes(out, 1, &span.context.trace_id);
    write_bytes(out, 2, &span.context.span_id);
    write_string(out, 3, span.trace_state.as_deref().unwrap_or(""));
    if let Some(parent) = &span.parent {
        write_bytes(out, 4, parent);
    }
    write_string(out, 5, &span.name);
    key(out, 6, VARINT);
    varint(out, span.kind as u64);
    key(out, 7, FIXED64);
    out.extend_from_slice(&span.start_unix_nanos.to_le_bytes());
    key(out, 8, FIXED64);
    out.extend_from_slice(&span.end_unix_nanos.to_le_bytes());
    for (name, value) in &span.attributes {
        header(out, 9, key_value_len(name, value));
        write_key_value(out, name, value);
    }
    header(out, 15, status_len(&span.status));
    let (code, message) = status_parts(&span.status);
    write_string(out, 2, message);
    if code != 0 {
        key(out, 3, VARINT);
        varint(out, code);
    }
    key(out, 16, FIXED32);
    out.extend_from_slice(&u32::from(span.context.flags).to_le_bytes());
}

fn any_value_len(value: &ValueRef<'_>) -> usize {
    match value {
        // Set in the oneof even when empty: always written.
        ValueRef::Text(text) => nested_len(1, text.len()),
        ValueRef::Bool(_) => 2,
        ValueRef::Int(n) => 1 + varint_len(*n as u64),
    }
}

fn key_value_len(name: &str, value: &impl AttributeText) -> usize {
    string_len(1, name) + nested_len(2, any_value_len(&value.value()))
}

fn write_key_value(out: &mut Vec<u8>, name: &str, value: &impl AttributeText) {
    let value = value.value();
    write_string(out, 1, name);
    header(out, 2, any_value_len(&value));
    match value {
        ValueRef::Text(text) => {
            // An empty string is still a value set in the oneof: written, not skipped.
            header(out, 1, text.len());
            out.extend_from_slice(text.as_bytes());
        }
        ValueRef::Bool(b) => {
            key(out, 2, VARINT);
            out.push(u8::from(b));
        }
        ValueRef::Int(n) => {
            key(out, 3, VARINT);
            varint(out, n as u64);
        }
    }
}

/// A length-delimited field's size, with its key and length (tags below 16: a one-byte key).
fn nested_len(_tag: u32, len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn bytes_len(tag: u32, len: usize) -> usize {
    nested_len(tag, len)
}

/// An optional string: absent when empty (proto3 leaves defaults out).
fn string_len(tag: u32, text: &str) -> usize {
    if text.is_empty() {
        0
    } else {
        nested_len(tag, text.len())
    }
}

fn write_string(out: &mut Vec<u8>, tag: u32, text: &str) {
    if !text.is_empty() {
        header(out, tag, text.len());
        out.extend_from_slice(text.as_bytes());
    }
}

fn write_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    header(out, tag, bytes.len());
    out.extend_from_slice(bytes);
}

fn header(out: &mut Vec<u8>, tag: u32, len: usize) {
    key(out, tag, LENGTH_DELIMITED);
    varint(out, len as u64);
}

fn key(out: &mut Vec<u8>, tag: u32, wire_type: u32) {
    varint(out, u64::from(tag << 3 | wire_type));
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn varint_len(value: u64) -> usize {
    // 7 bits a byte; 0 still takes one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::super::otlp::{self, ExportTraceServiceRequest};
    use super::*;
    use crate::trace::{SpanKind, TraceContext};

    fn spans() -> Vec<Span> {
        let context = TraceContext::start(true);
        let mut root = Span::ended_now(context, None, "GET officers".into(), SpanKind::Server, 1);
        root.set("http.response.status_code", 503_i64);
        root.set("meshwork.gateway", "edge");
        root.set("empty", "");
        root.set("negative", -3_i64);
        root.set("flag", true);
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
        vec![root, child]
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
    fn varint_lengths_match_the_encoding() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            varint(&mut out, value);
            assert_eq!(out.len(), varint_len(value), "{value}");
        }
    }
}
