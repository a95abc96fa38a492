//! The record a produce route writes, decided from the admitted request: the topic (fixed, or
//! named by a path parameter and checked against the route's allow list and Kafka's naming
//! rule), the value (the raw body, or the JSON envelope), and the refusals with their statuses.
//! The key is request CEL ([`crate::admit::cel::RequestExpression`]). meshd's producer sends
//! what this decides.

use std::collections::BTreeMap;

use http::{HeaderMap, Method};
use meshwork_bundle::ProduceTopic;
use serde_json::json;

/// The largest body a produce route takes when its admission sets no `body_limit`: librdkafka's
/// default `message.max.bytes` is about 1 MB, so larger records would be refused anyway.
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;

/// Why a produce route writes no record for a request (the broker aside).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordRefusal {
    /// The body is larger than the route takes.
    #[error("the body is larger than {0} bytes")]
    BodyTooLarge(u64),
    /// The path parameter names a topic the route may not write.
    #[error("topic `{0}` is not one this route produces to")]
    TopicNotAllowed(String),
    /// The path parameter is not a valid Kafka topic name.
    #[error("`{0}` is not a valid Kafka topic name")]
    BadTopic(String),
    /// The key expression failed on this request.
    #[error("the record key could not be computed: {0}")]
    Key(String),
}

impl RecordRefusal {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> u16 {
        match self {
            RecordRefusal::BodyTooLarge(_) => 413,
            RecordRefusal::TopicNotAllowed(_) => 404,
            RecordRefusal::BadTopic(_) | RecordRefusal::Key(_) => 400,
        }
    }
}

/// The topic of the record: the fixed one, or the one the path parameter names (in the allow
/// list when the route has one, else any valid topic name).
pub fn topic_for<'a>(
    topic: &'a ProduceTopic,
    params: &[(&'a str, &'a str)],
) -> Result<&'a str, RecordRefusal> {
    match topic {
        ProduceTopic::Fixed { name } => Ok(name),
        ProduceTopic::Param { param, allow } => {
            let named = params
                .iter()
                .find(|(name, _)| name == param)
                .map_or("", |(_, value)| *value);
            match allow {
                Some(allowed) => allowed
                    .iter()
                    .find(|t| *t == named)
                    .map(String::as_str)
                    .ok_or_else(|| RecordRefusal::TopicNotAllowed(named.to_owned())),
                None => {
                    check_topic_name(named)
                        .map_err(|_| RecordRefusal::BadTopic(named.to_owned()))?;
                    Ok(named)
                }
            }
        }
    }
}

/// `{method, path, headers, query, body}`: headers and query as objects (sorted; repeated headers
/// joined with ", ", the first of repeated query parameters), the body as JSON when it is JSON,
/// as a string when it is UTF-8, else base64 with `"body_encoding": "base64"`.
pub fn envelope(
    method: &Method,
    path: &str,
    query: Option<&str>,
    request_headers: &HeaderMap,
    body: &[u8],
) -> Vec<u8> {
    let mut headers: BTreeMap<&str, String> = BTreeMap::new();
    for (name, value) in request_headers {
        let text = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&text);
            })
            .or_insert_with(|| text.into_owned());
    }
    let mut parameters: BTreeMap<String, String> = BTreeMap::new();
    if let Some(raw) = query {
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            parameters
                .entry(name.into_owned())
                .or_insert_with(|| value.into_owned());
        }
    }
    let mut envelope = serde_json::Map::new();
    envelope.insert("method".into(), json!(method.as_str()));
    envelope.insert("path".into(), json!(path));
    envelope.insert("headers".into(), json!(headers));
    envelope.insert("query".into(), json!(parameters));
    let body = if body.is_empty() {
        serde_json::Value::Null
    } else if let Ok(parsed) = serde_json::from_slice::<serde_json::Value>(body) {
        parsed
    } else if let Ok(text) = std::str::from_utf8(body) {
        json!(text)
    } else {
        use base64::Engine;
        envelope.insert("body_encoding".into(), json!("base64"));
        json!(base64::engine::general_purpose::STANDARD.encode(body))
    };
    envelope.insert("body".into(), body);
    serde_json::Value::Object(envelope).to_string().into_bytes()
}

/// Kafka's topic name rule: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn check_topic_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!("`{name}` is not a valid Kafka topic name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn the_envelope_carries_method_path_headers_query_and_json_body() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ship", HeaderValue::from_static("enterprise"));
        headers.append("accept", HeaderValue::from_static("text/plain"));
        headers.append("accept", HeaderValue::from_static("application/json"));
        let envelope = envelope(
            &Method::POST,
            "/log",
            Some("ship=enterprise&ship=defiant&deck=7"),
            &headers,
            br#"{"severity":"red"}"#,
        );
        let parsed: serde_json::Value = serde_json::from_slice(&envelope).unwrap();
        assert_eq!(
            parsed,
            json!({
                "method": "POST",
                "path": "/log",
                "headers": {"accept": "text/plain, application/json", "x-ship": "enterprise"},
                "query": {"deck": "7", "ship": "enterprise"},
                "body": {"severity": "red"},
            })
        );
    }

    #[test]
    fn a_binary_body_is_base64_in_the_envelope() {
        let envelope = envelope(
            &Method::POST,
            "/log",
            None,
            &HeaderMap::new(),
            &[0xff, 0x00],
        );
        let parsed: serde_json::Value = serde_json::from_slice(&envelope).unwrap();
        assert_eq!(parsed["body"], json!("/wA="));
        assert_eq!(parsed["body_encoding"], json!("base64"));
    }

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(check_topic_name("captains-log.v2_eu").is_ok());
        for bad in ["", ".", "..", "log/../x", "a b", &"x".repeat(250)] {
            assert!(check_topic_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_topic_parameter_is_checked_against_the_allow_list() {
        let allowed = ProduceTopic::Param {
            param: "ship".into(),
            allow: Some(vec!["enterprise".into()]),
        };
        assert_eq!(
            topic_for(&allowed, &[("ship", "enterprise")]),
            Ok("enterprise")
        );
        assert_eq!(
            topic_for(&allowed, &[("ship", "defiant")]),
            Err(RecordRefusal::TopicNotAllowed("defiant".into()))
        );
        let any = ProduceTopic::Param {
            param: "ship".into(),
            allow: None,
        };
        assert_eq!(
            topic_for(&any, &[("ship", "a b")]),
            Err(RecordRefusal::BadTopic("a b".into()))
        );
        assert_eq!(RecordRefusal::TopicNotAllowed("x".into()).status(), 404);
    }
}
