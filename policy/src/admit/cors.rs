//! CORS (Fetch standard): preflights are answered by the gateway, actual responses get the
//! `Access-Control-*` headers when the `Origin` is allowed.
//!
//! An actual request from an origin that is not allowed is not refused: browsers send `Origin`
//! on same-origin requests too, and the browser itself withholds the response from the page
//! when the headers are missing. Only a preflight from such an origin is refused (403), so the
//! refusal can say why.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method};

use super::header_sink::HeaderSink;
use meshwork_bundle::SourceLocation;

use super::error::AdmitBuildError;
use super::facts::RequestFacts;

/// Request headers a page may always send (Fetch's CORS-safelisted request headers).
const SAFELISTED: [&str; 4] = [
    "accept",
    "accept-language",
    "content-language",
    "content-type",
];

/// What the bundle says about CORS, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct CorsRule<'a> {
    /// Allowed origins (`*` for any).
    pub origins: &'a [String],
    /// Allowed methods (empty: whatever is asked).
    pub methods: &'a [String],
    /// Allowed request headers (`*` for any).
    pub headers: &'a [String],
    /// Response headers exposed to scripts.
    pub expose: &'a [String],
    /// Whether credentials are allowed.
    pub credentials: bool,
    /// Preflight cache lifetime.
    pub max_age_ms: Option<u64>,
}

/// A route's CORS policy with its header values rendered.
#[derive(Debug)]
pub struct CorsPolicy {
    any_origin: bool,
    origins: Vec<String>,
    methods: Vec<Method>,
    methods_value: Option<HeaderValue>,
    any_header: bool,
    headers: Vec<String>,
    headers_value: Option<HeaderValue>,
    expose: Option<HeaderValue>,
    credentials: bool,
    max_age: Option<HeaderValue>,
}

/// Whether the request is a preflight, and if so whether it passes.
#[derive(Debug)]
pub enum Preflight {
    /// Not a preflight (or the route has no CORS): admit it as usual.
    NotPreflight,
    /// A preflight to answer with 204 and these headers.
    Allowed(HeaderMap),
    /// A preflight to refuse, and why.
    Refused(String),
}

fn joined(values: &[String]) -> Option<String> {
    (!values.is_empty()).then(|| values.join(", "))
}

impl CorsPolicy {
    /// Prepares the policy of `route`.
    pub fn build(
        rule: CorsRule<'_>,
        route: &str,
        source: &SourceLocation,
    ) -> Result<Self, AdmitBuildError> {
        let invalid = |what: &str| {
            AdmitBuildError::invalid(
                route,
                source,
                format!("CORS {what} cannot be sent in a header"),
            )
        };
        let value = |text: Option<String>, what: &str| match text {
            Some(text) => HeaderValue::try_from(text)
                .map(Some)
                .map_err(|_| invalid(what)),
            None => Ok(None),
        };
        let methods = rule
            .methods
            .iter()
            .map(|m| Method::from_bytes(m.as_bytes()).map_err(|_| invalid("method")))
            .collect::<Result<Vec<_>, _>>()?;
        let any_header = rule.headers.iter().any(|h| h == "*");
        Ok(CorsPolicy {
            any_origin: rule.origins.iter().any(|o| o == "*"),
            origins: rule
                .origins
                .iter()
                .map(|o| o.to_ascii_lowercase())
                .collect(),
            methods,
            methods_value: value(joined(rule.methods), "methods")?,
            any_header,
            headers: rule
                .headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            headers_value: if any_header {
                None
            } else {
                value(joined(rule.headers), "headers")?
            },
            expose: value(joined(rule.expose), "expose")?,
            credentials: rule.credentials,
            max_age: rule.max_age_ms.map(|ms| HeaderValue::from(ms / 1_000)),
        })
    }

    fn origin_allowed(&self, origin: &HeaderValue) -> bool {
        self.any_origin
            || origin.to_str().is_ok_and(|o| {
                self.origins
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(o))
            })
    }

    fn allow_origin(&self, origin: &HeaderValue, headers: &mut impl HeaderSink) {
        let value = if self.any_origin && !self.credentials {
            HeaderValue::from_static("*")
        } else {
            origin.clone()
        };
        headers.set_header(ACCESS_CONTROL_ALLOW_ORIGIN, value);
        if self.credentials {
            headers.set_header(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// Classifies `facts`: an `OPTIONS` with `Origin` and `Access-Control-Request-Method` is a
    /// preflight, allowed when origin, method and every requested header are.
    pub fn preflight(&self, facts: &RequestFacts<'_>) -> Preflight {
        if facts.method != Method::OPTIONS {
            return Preflight::NotPreflight;
        }
        let (Some(origin), Some(requested)) = (
            facts.headers.value(&ORIGIN),
            facts.headers.value(&ACCESS_CONTROL_REQUEST_METHOD),
        ) else {
            return Preflight::NotPreflight;
        };
        if !self.origin_allowed(&origin) {
            return Preflight::Refused(format!(
                "CORS origin {} is not allowed",
                String::from_utf8_lossy(origin.as_bytes())
            ));
        }
        let method_ok = self.methods.is_empty()
            || Method::from_bytes(requested.as_bytes()).is_ok_and(|m| self.methods.contains(&m));
        if !method_ok {
            return Preflight::Refused(format!(
                "CORS method {} is not allowed",
                String::from_utf8_lossy(requested.as_bytes())
            ));
        }
        let asked_headers = facts.headers.value(&ACCESS_CONTROL_REQUEST_HEADERS);
        if let Some(asked) = asked_headers.as_ref().and_then(|v| v.to_str().ok()) {
            let refused = asked
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .find(|h| {
                    !self.any_header
                        && !SAFELISTED.contains(&h.as_str())
                        && !self.headers.contains(h)
                });
            if let Some(header) = refused {
                return Preflight::Refused(format!("CORS request header {header} is not allowed"));
            }
        }
        let mut headers = HeaderMap::new();
        self.allow_origin(&origin, &mut headers);
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            self.methods_value.clone().unwrap_or(requested),
        );
        let allow_headers = match (&self.headers_value, asked_headers) {
            (Some(configured), _) => Some(configured.clone()),
            (None, asked) => asked,
        };
        if let Some(allow_headers) = allow_headers {
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
        }
        if let Some(max_age) = &self.max_age {
            headers.insert(ACCESS_CONTROL_MAX_AGE, max_age.clone());
        }
        headers.append(
            VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        Preflight::Allowed(headers)
    }

    /// The `Origin` to answer, if the request has one this policy allows.
    pub fn allowed_origin(&self, facts: &RequestFacts<'_>) -> Option<HeaderValue> {
        facts
            .headers
            .value(&ORIGIN)
            .filter(|origin| self.origin_allowed(origin))
    }

    /// Decorates a response to a request whose allowed origin is `origin` (if any).
    pub fn write_response_headers(
        &self,
        origin: Option<&HeaderValue>,
        headers: &mut impl HeaderSink,
    ) {
        if let Some(origin) = origin {
            self.allow_origin(origin, headers);
            if let Some(expose) = &self.expose {
                headers.set_header(ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
            }
        }
        if !self.any_origin || self.credentials {
            headers.append_header(VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    fn policy(origins: &[&str], credentials: bool) -> CorsPolicy {
        let origins = strings(origins);
        let methods = strings(&["GET", "PUT"]);
        let headers = strings(&["x-api-key"]);
        let expose = strings(&["x-trace"]);
        CorsPolicy::build(
            CorsRule {
                origins: &origins,
                methods: &methods,
                headers: &headers,
                expose: &expose,
                credentials,
                max_age_ms: Some(600_000),
            },
            "r",
            &SourceLocation {
                file: "edge.mesh".into(),
                line: 12,
                column: 5,
            },
        )
        .unwrap()
    }

    fn request(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn preflight(policy: &CorsPolicy, pairs: &[(&'static str, &'static str)]) -> Preflight {
        let headers = request(pairs);
        let facts = RequestFacts::new(
            &Method::OPTIONS,
            "/",
            &headers,
            "127.0.0.1:1".parse().unwrap(),
        );
        policy.preflight(&facts)
    }

    #[test]
    fn preflight_from_an_allowed_origin_is_answered() {
        let policy = policy(&["https://starfleet.test"], true);
        let Preflight::Allowed(headers) = preflight(
            &policy,
            &[
                ("origin", "https://starfleet.test"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "X-Api-Key, Content-Type"),
            ],
        ) else {
            panic!("preflight should be allowed");
        };
        assert_eq!(
            headers[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://starfleet.test"
        );
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_METHODS], "GET, PUT");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_HEADERS], "x-api-key");
        assert_eq!(headers[ACCESS_CONTROL_MAX_AGE], "600");
        assert!(headers[VARY].to_str().unwrap().contains("Origin"));
    }

    #[test]
    fn preflight_from_another_origin_is_refused_with_a_reason() {
        let policy = policy(&["https://starfleet.test"], false);
        let Preflight::Refused(reason) = preflight(
            &policy,
            &[
                ("origin", "https://romulus.test"),
                ("access-control-request-method", "GET"),
            ],
        ) else {
            panic!("preflight should be refused");
        };
        assert_eq!(reason, "CORS origin https://romulus.test is not allowed");
    }

    #[test]
    fn preflight_for_an_unlisted_method_or_header_is_refused() {
        let policy = policy(&["*"], false);
        assert!(matches!(
            preflight(&policy, &[("origin", "https://a.test"), ("access-control-request-method", "DELETE")]),
            Preflight::Refused(reason) if reason == "CORS method DELETE is not allowed"
        ));
        assert!(matches!(
            preflight(&policy, &[
                ("origin", "https://a.test"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-secret"),
            ]),
            Preflight::Refused(reason) if reason == "CORS request header x-secret is not allowed"
        ));
    }

    #[test]
    fn options_without_request_method_is_not_a_preflight() {
        let policy = policy(&["*"], false);
        assert!(matches!(
            preflight(&policy, &[("origin", "https://a.test")]),
            Preflight::NotPreflight
        ));
    }

    #[test]
    fn actual_response_gets_origin_expose_and_vary() {
        let policy = policy(&["https://starfleet.test"], false);
        let headers = request(&[("origin", "https://starfleet.test")]);
        let facts = RequestFacts::new(&Method::GET, "/", &headers, "127.0.0.1:1".parse().unwrap());
        let origin = policy.allowed_origin(&facts);
        let mut response = HeaderMap::new();
        policy.write_response_headers(origin.as_ref(), &mut response);
        assert_eq!(
            response[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://starfleet.test"
        );
        assert_eq!(response[ACCESS_CONTROL_EXPOSE_HEADERS], "x-trace");
        assert_eq!(response[VARY], "Origin");

        let other = request(&[("origin", "https://romulus.test")]);
        let facts = RequestFacts::new(&Method::GET, "/", &other, "127.0.0.1:1".parse().unwrap());
        let mut response = HeaderMap::new();
        policy.write_response_headers(policy.allowed_origin(&facts).as_ref(), &mut response);
        assert!(response.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert_eq!(response[VARY], "Origin");
    }

    #[test]
    fn any_origin_without_credentials_answers_star() {
        let policy = policy(&["*"], false);
        let headers = request(&[("origin", "https://a.test")]);
        let facts = RequestFacts::new(&Method::GET, "/", &headers, "127.0.0.1:1".parse().unwrap());
        let mut response = HeaderMap::new();
        policy.write_response_headers(policy.allowed_origin(&facts).as_ref(), &mut response);
        assert_eq!(response[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }
}
