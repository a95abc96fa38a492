//! A refused request and why: the status, the step, the route, the rule's place in the source
//! and a reason, sent back as `x-meshwork-denied-by` and a JSON body, and logged.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use meshwork_bundle::SourceLocation;
use serde::Serialize;

/// The response header naming the rule that refused a request.
pub static DENIED_BY: HeaderName = HeaderName::from_static("x-meshwork-denied-by");

/// The kind of admission step, as named in the bundle (`step` field) and in metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepKind {
    /// Authentication (401).
    Auth,
    /// Allow / deny by consumer, group or address (403).
    Access,
    /// Rate limit (429).
    RateLimit,
    /// CEL condition (403).
    Condition,
    /// CORS preflight refused (403).
    Cors,
    /// Body too large (413).
    BodyLimit,
}

impl StepKind {
    /// The bundle's name for the step (`auth`, `rate_limit`, …), also the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Auth => "auth",
            StepKind::Access => "access",
            StepKind::RateLimit => "rate_limit",
            StepKind::Condition => "condition",
            StepKind::Cors => "cors",
            StepKind::BodyLimit => "body_limit",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of one route: what every denial by it repeats. The route's name is shared by its
/// steps, and the `x-meshwork-denied-by` value is made by the first denial (most steps never
/// refuse anything, and a 100 000-route program has 400 000 of them to load).
#[derive(Debug)]
pub struct StepSite {
    route: Arc<str>,
    kind: StepKind,
    source: SourceLocation,
    denied_by: OnceLock<HeaderValue>,
}

impl StepSite {
    /// The site of a `kind` step of `route` written at `source`.
    pub fn new(route: Arc<str>, kind: StepKind, source: &SourceLocation) -> Arc<Self> {
        Arc::new(StepSite {
            route,
            kind,
            source: source.clone(),
            denied_by: OnceLock::new(),
        })
    }

    /// `route=<r>; step=<s>; source=<file>:<line>`, as a header value.
    fn denied_by(&self) -> &HeaderValue {
        self.denied_by.get_or_init(|| {
            header_value_lossy(&format!(
                "route={}; step={}; source={}:{}",
                self.route, self.kind, self.source.file, self.source.line
            ))
        })
    }
}

/// `text` as a header value, with bytes a header cannot carry percent-encoded.
pub fn header_value_lossy(text: &str) -> HeaderValue {
    let mut safe = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..0x7f).contains(&byte) {
            safe.push(byte as char);
        } else {
            safe.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&safe).unwrap_or_else(|_| HeaderValue::from_static("unprintable"))
}

/// A refused request.
#[derive(Debug, Clone)]
pub struct Denial {
    /// 401, 403, 413 or 429.
    pub status: StatusCode,
    /// Why, for the client and the access log; never a secret.
    pub reason: Cow<'static, str>,
    /// Headers to send with the refusal (`WWW-Authenticate`, `Retry-After`, `RateLimit-*`,
    /// CORS); `x-meshwork-denied-by` is added by [`Denial::response_headers`].
    pub headers: HeaderMap,
    site: Arc<StepSite>,
    consumer: Option<Arc<str>>,
}

#[derive(Serialize)]
struct DenialBody<'a> {
    status: u16,
    error: &'a str,
    reason: &'a str,
    route: &'a str,
    step: &'a str,
    source: String,
}

impl Denial {
    /// A refusal by the step at `site`.
    pub fn new(
        site: &Arc<StepSite>,
        status: StatusCode,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        Denial {
            status,
            reason: reason.into(),
            headers: HeaderMap::new(),
            site: Arc::clone(site),
            consumer: None,
        }
    }

    /// The same refusal, naming the consumer admission had identified (for the access log).
    pub fn by_consumer(mut self, consumer: Option<&Arc<str>>) -> Self {
        self.consumer = consumer.cloned();
        self
    }

    /// The consumer the request was authenticated as before it was refused, if any.
    pub fn consumer(&self) -> Option<&str> {
        self.consumer.as_deref()
    }

    /// The step that refused.
    pub fn step(&self) -> StepKind {
        self.site.kind
    }

    /// The route.
    pub fn route(&self) -> &str {
        &self.site.route
    }

    /// Where the refusing rule is written.
    pub fn source(&self) -> &SourceLocation {
        &self.site.source
    }

    /// The `x-meshwork-denied-by` value: `route=<r>; step=<s>; source=<file>:<line>`.
    pub fn denied_by_header(&self) -> &HeaderValue {
        self.site.denied_by()
    }

    /// Every header of the refusal, `x-meshwork-denied-by` included.
    pub fn response_headers(&self) -> HeaderMap {
        let mut headers = self.headers.clone();
        headers.insert(DENIED_BY.clone(), self.site.denied_by().clone());
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers
    }

    /// The JSON body: `{"status", "error", "reason", "route", "step", "source"}`.
    pub fn json_body(&self) -> String {
        let body = DenialBody {
            status: self.status.as_u16(),
            error: self.status.canonical_reason().unwrap_or("Refused"),
            reason: &self.reason,
            route: &self.site.route,
            step: self.site.kind.as_str(),
            source: format!("{}:{}", self.site.source.file, self.site.source.line),
        };
        serde_json::to_string(&body).unwrap_or_else(|_| {
            // Serializing strings and integers cannot fail; keep a body anyway.
            format!("{{\"status\":{}}}", self.status.as_u16())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Arc<StepSite> {
        StepSite::new(
            "officers".into(),
            StepKind::RateLimit,
            &SourceLocation {
                file: "edge.mesh".into(),
                line: 10,
                column: 5,
            },
        )
    }

    #[test]
    fn denied_by_names_route_step_and_source_line() {
        let denial = Denial::new(&site(), StatusCode::TOO_MANY_REQUESTS, "slow down");
        assert_eq!(
            denial.denied_by_header(),
            "route=officers; step=rate_limit; source=edge.mesh:10"
        );
        assert_eq!(
            denial.response_headers()[&DENIED_BY],
            "route=officers; step=rate_limit; source=edge.mesh:10"
        );
    }

    #[test]
    fn json_body_carries_the_reason() {
        let denial = Denial::new(&site(), StatusCode::TOO_MANY_REQUESTS, "slow down");
        assert_eq!(
            denial.json_body(),
            r#"{"status":429,"error":"Too Many Requests","reason":"slow down","route":"officers","step":"rate_limit","source":"edge.mesh:10"}"#
        );
    }

    #[test]
    fn non_ascii_source_paths_still_make_a_header() {
        let site = StepSite::new(
            "r".into(),
            StepKind::Auth,
            &SourceLocation {
                file: "brücke.mesh".into(),
                line: 1,
                column: 1,
            },
        );
        assert_eq!(
            site.denied_by(),
            "route=r; step=auth; source=br%C3%BCcke.mesh:1"
        );
    }
}
