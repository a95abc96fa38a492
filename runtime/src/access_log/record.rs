//! One access log line.

use serde::Serialize;

/// Why a request was denied, as logged (and sent in `x-meshwork-denied-by`).
#[derive(Debug, Clone, Serialize)]
pub struct DenialRecord<'a> {
    /// The admission step (`auth`, `rate_limit`, …).
    pub step: &'a str,
    /// Where the rule was written (`file:line:column`).
    pub source: &'a str,
    /// Why.
    pub reason: &'a str,
}

/// One request, as logged.
#[derive(Debug, Clone, Serialize)]
pub struct AccessRecord<'a> {
    /// RFC 3339 UTC time with milliseconds, when the response head was ready.
    pub time: &'a str,
    /// The gateway.
    pub gateway: &'a str,
    /// The matched route, if any.
    pub route: Option<&'a str>,
    /// The authenticated consumer, if any.
    pub consumer: Option<&'a str>,
    /// The request method.
    pub method: &'a str,
    /// The request path as received.
    pub path: &'a str,
    /// The response status.
    pub status: u16,
    /// From the request head to the response head, in milliseconds.
    pub duration_ms: f64,
    /// The upstream endpoint that answered, if any.
    pub upstream: Option<&'a str>,
    /// The upstream's time to response head, in milliseconds.
    pub upstream_ms: Option<f64>,
    /// The denial, if admission refused the request.
    pub denial: Option<DenialRecord<'a>>,
    /// Why the gateway answered an error itself (no route, upstream failure, …).
    pub error: Option<&'a str>,
    /// The faults a route's `fault` rules injected (`delay`, `abort`, `delay+abort`); left out
    /// when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<&'a str>,
    /// The W3C trace id (32 hex digits), when the gateway traces; left out otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The request's own span id (16 hex digits), as exported; left out when not tracing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
}
