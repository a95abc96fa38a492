//! The OTLP trace messages meshd sends (`ExportTraceServiceRequest`, POST /v1/traces,
//! `application/x-protobuf`), derived with prost from the official definitions in
//! opentelemetry-proto (`opentelemetry/proto/{collector/trace,trace,common,resource}/v1`): the
//! reference [`super::otlp_writer`] is tested against (it must produce the same bytes). Only the
//! fields meshd fills are declared: protobuf readers skip what they do not know and absent fields
//! are their defaults. The integration tests decode every batch with the official Python classes.

use prost::Message;

use super::span::{AttributeValue, Span, SpanStatus};

/// `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct ExportTraceServiceRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<ResourceSpans>,
}

/// `opentelemetry.proto.trace.v1.ResourceSpans`.
#[derive(Clone, PartialEq, Message)]
pub struct ResourceSpans {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub scope_spans: Vec<ScopeSpans>,
}

/// `opentelemetry.proto.resource.v1.Resource`.
#[derive(Clone, PartialEq, Message)]
pub struct Resource {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

/// `opentelemetry.proto.trace.v1.ScopeSpans`.
#[derive(Clone, PartialEq, Message)]
pub struct ScopeSpans {
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    #[prost(message, repeated, tag = "2")]
    pub spans: Vec<OtlpSpan>,
}

/// `opentelemetry.proto.common.v1.InstrumentationScope`.
#[derive(Clone, PartialEq, Message)]
pub struct InstrumentationScope {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

/// `opentelemetry.proto.trace.v1.Span`.
#[derive(Clone, PartialEq, Message)]
pub struct OtlpSpan {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub trace_state: String,
    #[prost(bytes = "vec", tag = "4")]
    pub parent_span_id: Vec<u8>,
    #[prost(string, tag = "5")]
    pub name: String,
    /// `SpanKind`: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    #[prost(int32, tag = "6")]
    pub kind: i32,
    #[prost(fixed64, tag = "7")]
    pub start_time_unix_nano: u64,
    #[prost(fixed64, tag = "8")]
    pub end_time_unix_nano: u64,
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    #[prost(message, optional, tag = "15")]
    pub status: Option<Status>,
    /// The W3C trace flags (bit 0: sampled).
    #[prost(fixed32, tag = "16")]
    pub flags: u32,
}

/// `opentelemetry.proto.trace.v1.Status`.
#[derive(Clone, PartialEq, Message)]
pub struct Status {
    #[prost(string, tag = "2")]
    pub message: String,
    /// `StatusCode`: 0 unset, 1 ok, 2 error.
    #[prost(int32, tag = "3")]
    pub code: i32,
}

/// `opentelemetry.proto.common.v1.KeyValue`.
#[derive(Clone, PartialEq, Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

/// `opentelemetry.proto.common.v1.AnyValue`.
#[derive(Clone, PartialEq, Message)]
pub struct AnyValue {
    #[prost(oneof = "any_value::Value", tags = "1, 2, 3")]
    pub value: Option<any_value::Value>,
}

/// The `AnyValue.value` oneof.
pub mod any_value {
    /// The kinds of value meshd sends.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(string, tag = "1")]
        StringValue(String),
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        #[prost(int64, tag = "3")]
        IntValue(i64),
    }
}

use super::otlp_writer::SCOPE;

/// Encodes one batch of spans as an export request from `service_name`.
pub fn encode_batch(service_name: &str, spans: &[Span]) -> Vec<u8> {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![key_value(
                    "service.name",
                    &AttributeValue::Text(service_name.to_string().into()),
                )],
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: SCOPE.to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                }),
                spans: spans.iter().map(otlp_span).collect(),
            }],
        }],
    };
    request.encode_to_vec()
}

fn otlp_span(span: &Span) -> OtlpSpan {
    let (code, message) = match &span.status {
        SpanStatus::Unset => (0, String::new()),
        SpanStatus::Ok => (1, String::new()),
        SpanStatus::Error(message) => (2, message.clone()),
    };
    OtlpSpan {
        trace_id: span.context.trace_id.to_vec(),
        span_id: span.context.span_id.to_vec(),
        trace_state: span.trace_state.clone().unwrap_or_default(),
        parent_span_id: span.parent.map(|p| p.to_vec()).unwrap_or_default(),
        name: span.name.clone(),
        kind: span.kind as i32,
        start_time_unix_nano: span.start_unix_nanos,
        end_time_unix_nano: span.end_unix_nanos,
        attributes: span
            .attributes
            .iter()
            .map(|(key, value)| key_value(key, value))
            .collect(),
        status: Some(Status { message, code }),
        flags: u32::from(span.context.flags),
    }
}

fn key_value(key: &str, value: &AttributeValue) -> KeyValue {
    let value = match value {
        AttributeValue::Text(text) => any_value::Value::StringValue(text.to_string()),
        AttributeValue::Shared(text) => any_value::Value::StringValue(text.to_string()),
        AttributeValue::Int(n) => any_value::Value::IntValue(*n),
        AttributeValue::Bool(b) => any_value::Value::BoolValue(*b),
    };
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{SpanKind, TraceContext};

    #[test]
    fn a_batch_decodes_back_with_ids_parent_times_attributes_and_status() {
        let context =
            TraceContext::parse(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .unwrap();
        let mut span = Span::ended_now(
            context,
            Some([7; 8]),
            "GET officers".into(),
            SpanKind::Server,
            5,
        );
        span.end_unix_nanos = 9;
        span.set("http.response.status_code", 503_i64);
        span.set("meshwork.gateway", "edge");
        span.status = SpanStatus::Error("upstream down".into());
        let bytes = encode_batch("meshd", &[span]);
        let request = ExportTraceServiceRequest::decode(&bytes[..]).unwrap();
        let resource = &request.resource_spans[0];
        assert_eq!(
            resource.resource.as_ref().unwrap().attributes[0].key,
            "service.name"
        );
        let decoded = &resource.scope_spans[0].spans[0];
        assert_eq!(decoded.trace_id, context.trace_id.to_vec());
        assert_eq!(decoded.span_id, context.span_id.to_vec());
        assert_eq!(decoded.parent_span_id, vec![7; 8]);
        assert_eq!(decoded.kind, 2);
        assert_eq!(
            (decoded.start_time_unix_nano, decoded.end_time_unix_nano),
            (5, 9)
        );
        assert_eq!(decoded.flags, 1);
        assert_eq!(decoded.attributes.len(), 2);
        let status = decoded.status.as_ref().unwrap();
        assert_eq!((status.code, status.message.as_str()), (2, "upstream down"));
    }
}
