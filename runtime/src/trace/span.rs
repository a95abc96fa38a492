//! A finished span, as the exporter queues it. Built only for sampled traces: an unsampled
//! request never allocates one.

use std::borrow::Cow;
use std::sync::Arc;

use super::context::TraceContext;

/// What the span describes (OTLP `SpanKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum SpanKind {
    /// Work inside meshd (an admission step, a stream rule's decision).
    Internal = 1,
    /// A request meshd serves.
    Server = 2,
    /// A call meshd makes (an upstream, a delivery).
    Client = 3,
    /// A record meshd produces.
    Producer = 4,
    /// A record meshd consumes (a stream rule).
    Consumer = 5,
}

/// How the span ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanStatus {
    /// Nothing to say (success, by OpenTelemetry's HTTP conventions, for a 4xx on a server span).
    Unset,
    /// Explicitly fine.
    Ok,
    /// Failed, with why.
    Error(String),
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// Text.
    Text(Cow<'static, str>),
    /// Text shared with the loaded state (a gateway, route or service name): no copy.
    Shared(Arc<str>),
    /// An integer.
    Int(i64),
    /// A flag.
    Bool(bool),
}

impl From<&'static str> for AttributeValue {
    fn from(text: &'static str) -> Self {
        AttributeValue::Text(Cow::Borrowed(text))
    }
}

impl From<String> for AttributeValue {
    fn from(text: String) -> Self {
        AttributeValue::Text(Cow::Owned(text))
    }
}

impl From<&Arc<str>> for AttributeValue {
    fn from(text: &Arc<str>) -> Self {
        AttributeValue::Shared(Arc::clone(text))
    }
}

/// A request method as an attribute: the standard ones without a copy.
pub fn method_value(method: &str) -> AttributeValue {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    match KNOWN.iter().find(|known| **known == method) {
        Some(known) => AttributeValue::Text(Cow::Borrowed(known)),
        None => AttributeValue::Text(Cow::Owned(method.to_string())),
    }
}

impl From<i64> for AttributeValue {
    fn from(n: i64) -> Self {
        AttributeValue::Int(n)
    }
}

impl From<bool> for AttributeValue {
    fn from(b: bool) -> Self {
        AttributeValue::Bool(b)
    }
}

/// One finished span.
#[derive(Debug, Clone)]
pub struct Span {
    /// Its trace, id and flags.
    pub context: TraceContext,
    /// The parent span's id (`None` for a trace's root).
    pub parent: Option<[u8; 8]>,
    /// The `tracestate` the trace carried in, if any.
    pub trace_state: Option<String>,
    /// Its name (`GET /officers/{id}`, `produce captains-log`, …).
    pub name: String,
    /// Its kind.
    pub kind: SpanKind,
    /// When it started, in nanoseconds since the Unix epoch.
    pub start_unix_nanos: u64,
    /// When it ended.
    pub end_unix_nanos: u64,
    /// Its attributes (OpenTelemetry semantic conventions where one fits, `meshwork.*` otherwise).
    pub attributes: Vec<(&'static str, AttributeValue)>,
    /// How it ended.
    pub status: SpanStatus,
}

impl Span {
    /// A span of `kind` named `name` for `context`, started at `start_unix_nanos`, ending now.
    pub fn ended_now(
        context: TraceContext,
        parent: Option<[u8; 8]>,
        name: String,
        kind: SpanKind,
        start_unix_nanos: u64,
    ) -> Span {
        Span {
            context,
            parent,
            trace_state: None,
            name,
            kind,
            start_unix_nanos,
            end_unix_nanos: unix_nanos(),
            attributes: Vec::new(),
            status: SpanStatus::Unset,
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, key: &'static str, value: impl Into<AttributeValue>) -> Span {
        self.attributes.push((key, value.into()));
        self
    }

    /// Adds an attribute.
    pub fn set(&mut self, key: &'static str, value: impl Into<AttributeValue>) {
        self.attributes.push((key, value.into()));
    }
}

/// Now, in nanoseconds since the Unix epoch (0 if the clock cannot be read or is before it).
/// Read with `clock_gettime` directly: a span takes two or three readings, and going through
/// `SystemTime` and `Duration` costs more than the (vDSO) clock read itself.
#[inline]
pub fn unix_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into the timespec it is given, alive for the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) } != 0 {
        return 0;
    }
    match (u64::try_from(now.tv_sec), u64::try_from(now.tv_nsec)) {
        (Ok(secs), Ok(nanos)) => secs.saturating_mul(1_000_000_000).saturating_add(nanos),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_nanos_reads_the_system_clock() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let now = u128::from(unix_nanos());
        let after = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        assert!(
            (before..=after).contains(&now),
            "{before} <= {now} <= {after}"
        );
    }
}
