//! What `bundle.schema.json` asks of a document that a Rust type alone does not hold, enforced
//! while a bundle is parsed: optional values are present as `null` (serde would take a missing
//! key as `None`), and ranges narrower than the integer type and hex patterns hold.
//!
//! Each bounded field carries both `#[schemars(…)]` (what the schema says) and
//! `#[serde(deserialize_with = "…")]` naming a function here (what the reader enforces), so the
//! typed parse refuses every document the schema refuses and a reader needs no JSON tree to
//! check a bundle. `tests::every_schema_bound_is_enforced_by_the_typed_parse` fails when a
//! bound is added to the schema without its function here.

use serde::de::{Deserialize, Deserializer, Error};

/// An optional value whose key must be present (`null` for none), as the schema requires: with a
/// `deserialize_with`, serde reports a missing key instead of reading it as `None`.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

fn in_range<'de, D, T>(deserializer: D, min: T, max: T) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + PartialOrd + std::fmt::Display + Copy,
{
    let value = T::deserialize(deserializer)?;
    if value < min || value > max {
        return Err(D::Error::custom(format!(
            "{value} is out of range: expected {min} to {max}"
        )));
    }
    Ok(value)
}

/// A period that cannot be empty (a divisor at runtime).
pub(crate) fn positive_ms<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    in_range(deserializer, 1, u64::MAX)
}

/// A count or size that cannot be zero (a bound a runtime queue is sized by).
pub(crate) fn positive<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    in_range(deserializer, 1, u64::MAX)
}

/// A limit that, when given, cannot be zero (`null` and absence are none).
pub(crate) fn optional_positive<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u32>, D::Error> {
    match Option::<u32>::deserialize(deserializer)? {
        Some(0) => Err(D::Error::custom(format!(
            "0 is out of range: expected 1 to {}",
            u32::MAX
        ))),
        limit => Ok(limit),
    }
}

/// 1-based lines and columns.
pub(crate) fn at_least_one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    in_range(deserializer, 1, u32::MAX)
}

/// Percentages (weights, ejection caps).
pub(crate) fn percent<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    in_range(deserializer, 0, 100)
}

/// HTTP statuses.
pub(crate) fn http_status<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    in_range(deserializer, 100, 599)
}

/// gRPC status codes (0–16).
pub(crate) fn grpc_code<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    in_range(deserializer, 0, 16)
}

/// The format version this crate reads.
pub(crate) fn format_version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    in_range(
        deserializer,
        super::bundle::FORMAT_VERSION,
        super::bundle::FORMAT_VERSION,
    )
}

fn is_lower_hex(text: &str, digits: usize) -> bool {
    text.len() == digits
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A source file's SHA-256: 64 lower-case hex digits.
pub(crate) fn sha256_hex<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if !is_lower_hex(&text, 64) {
        return Err(D::Error::custom(
            "a SHA-256 must be 64 lower-case hex digits",
        ));
    }
    Ok(text)
}

/// The bundle digest: empty, or `sha256:` and 64 lower-case hex digits.
pub(crate) fn digest_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    let well_formed = text.is_empty()
        || text
            .strip_prefix(crate::DIGEST_PREFIX)
            .is_some_and(|hex| is_lower_hex(hex, 64));
    if !well_formed {
        return Err(D::Error::custom(
            "the digest must be empty or `sha256:` and 64 lower-case hex digits",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::sample::starfleet_bundle;
    use crate::{Bundle, BUNDLE_SCHEMA};

    /// Every schema location holding a bound (`minimum` above 0, `maximum` below the integer
    /// type's top, `pattern`) as (definition, property path) pairs.
    fn schema_bounds() -> Vec<String> {
        fn walk(value: &Value, path: &str, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    let natural_max = match map.get("format").and_then(Value::as_str) {
                        Some("uint8") => Some(255.0),
                        Some("uint16") => Some(65535.0),
                        Some("uint32") => Some(4294967295.0),
                        _ => None,
                    };
                    let bounded = map.contains_key("pattern")
                        || map
                            .get("minimum")
                            .and_then(Value::as_f64)
                            .is_some_and(|m| m > 0.0)
                        || map
                            .get("maximum")
                            .and_then(Value::as_f64)
                            .is_some_and(|m| Some(m) != natural_max);
                    if bounded {
                        out.push(path.to_string());
                    }
                    for (key, child) in map {
                        walk(child, &format!("{path}/{key}"), out);
                    }
                }
                Value::Array(items) => {
                    for (i, child) in items.iter().enumerate() {
                        walk(child, &format!("{path}/{i}"), out);
                    }
                }
                _ => {}
            }
        }
        let schema: Value = serde_json::from_str(BUNDLE_SCHEMA).unwrap();
        let mut out = Vec::new();
        walk(&schema, "", &mut out);
        out.sort();
        out
    }

    #[test]
    fn every_schema_bound_is_enforced_by_the_typed_parse() {
        // The bounds the reader enforces, by schema location: a bound added to the schema must be
        // added here with a deserializer above (and a refused value below).
        let enforced = [
            "/$defs/AdmissionStep/oneOf/6/properties/percent",
            "/$defs/CircuitBreaker/properties/max_ejected_percent",
            "/$defs/CircuitBreaker/properties/max_requests",
            "/$defs/FailurePercentage/properties/percent",
            "/$defs/FaultAction/oneOf/0/properties/status",
            "/$defs/ForwardTarget/properties/weight",
            "/$defs/GrpcRetry/properties/grpc",
            "/$defs/MeshFault/properties/percent",
            "/$defs/RetryBudget/properties/min_period_ms",
            "/$defs/RetryBudget/properties/percent",
            "/$defs/RetryBudget/properties/window_ms",
            "/$defs/RetryOn/anyOf/1",
            "/$defs/RouteAction/oneOf/2/properties/status",
            "/$defs/RouteAction/oneOf/3/properties/buffer",
            "/$defs/RouteAction/oneOf/3/properties/buffer_bytes",
            "/$defs/RouteAction/oneOf/3/properties/clients",
            "/$defs/RouteAction/oneOf/3/properties/keepalive_ms",
            "/$defs/RouteMirror/properties/percent",
            "/$defs/SourceDigest/properties/sha256",
            "/$defs/SourceLocation/properties/column",
            "/$defs/SourceLocation/properties/line",
            "/$defs/Tracing/properties/sample_percent",
            "/properties/digest",
            "/properties/format_version",
        ];
        assert_eq!(schema_bounds(), enforced);
    }

    #[test]
    fn serve_bounds_of_zero_are_refused() {
        let serve = |buffer: u64, clients: u64| {
            serde_json::from_value::<crate::RouteAction>(serde_json::json!({
                "kind": "serve",
                "topic": "red-alerts",
                "when": null,
                "buffer": buffer,
                "buffer_bytes": 1024,
                "clients": clients,
                "keepalive_ms": 15000,
            }))
        };
        assert!(serve(256, 100).is_ok());
        assert!(serve(0, 100).is_err());
        assert!(serve(256, 0).is_err());
    }

    #[test]
    fn fault_percent_and_status_out_of_range_are_refused() {
        let step = |percent: u64, status: u64| {
            serde_json::from_value::<crate::AdmissionStep>(serde_json::json!({
                "step": "fault",
                "action": { "kind": "abort", "status": status },
                "percent": percent,
                "when": null,
                "source": { "file": "a.mesh", "line": 1, "column": 1 },
            }))
        };
        assert!(step(100, 503).is_ok());
        assert!(step(101, 503).is_err());
        assert!(step(10, 99).is_err());
        assert!(step(10, 600).is_err());
    }

    #[test]
    fn a_tracing_sample_over_100_percent_is_refused() {
        let tracing = |percent: u64| {
            serde_json::from_value::<crate::Tracing>(
                serde_json::json!({ "sample_percent": percent }),
            )
        };
        assert!(tracing(100).is_ok());
        assert!(tracing(101).is_err());
    }

    #[test]
    fn mesh_fault_percent_out_of_range_is_refused() {
        let fault = |percent: u64| {
            serde_json::from_value::<crate::MeshFault>(serde_json::json!({
                "from": "picard",
                "to": ["riker"],
                "action": { "kind": "delay", "delay_ms": 10 },
                "percent": percent,
                "when": null,
                "source": { "file": "a.mesh", "line": 1, "column": 1 },
            }))
        };
        assert!(fault(100).is_ok());
        assert!(fault(101).is_err());
    }

    #[test]
    fn grpc_retry_code_out_of_range_is_refused() {
        let on = |code: u64| {
            serde_json::from_value::<crate::RetryOn>(serde_json::json!({ "grpc": code }))
        };
        assert_eq!(
            on(14).unwrap(),
            crate::RetryOn::Grpc(crate::GrpcRetry { grpc: 14 })
        );
        assert!(on(17).is_err());
    }

    #[test]
    fn retry_budget_bounds_are_refused() {
        let budget = |percent: u64, window_ms: u64| {
            serde_json::from_value::<crate::RetryBudget>(serde_json::json!({
                "percent": percent,
                "min_retries": 10,
                "min_period_ms": 1000,
                "window_ms": window_ms,
            }))
        };
        assert!(budget(20, 10_000).is_ok());
        assert!(budget(101, 10_000).is_err());
        assert!(budget(20, 0).is_err());
    }

    /// The sample bundle as a JSON tree, `edit` applied, parsed back with the typed reader.
    fn parse_edited(edit: impl FnOnce(&mut Value)) -> Result<Bundle, serde_json::Error> {
        let mut document: Value =
            serde_json::from_str(&starfleet_bundle().to_canonical_json()).unwrap();
        edit(&mut document);
        serde_json::from_value(document)
    }

    /// Every `null` in `value` as a path of keys and indices.
    fn null_paths(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
        match value {
            Value::Null => out.push(path.clone()),
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(Value::from(key.as_str()));
                    null_paths(child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(Value::from(i));
                    null_paths(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    #[test]
    fn a_missing_optional_key_is_refused_as_the_schema_refuses_it() {
        let document: Value =
            serde_json::from_str(&starfleet_bundle().to_canonical_json()).unwrap();
        let mut paths = Vec::new();
        null_paths(&document, &mut Vec::new(), &mut paths);
        assert!(paths.len() > 10, "the sample has few nulls: {paths:?}");
        for path in paths {
            let mut edited = document.clone();
            let (last, parents) = path.split_last().unwrap();
            let mut parent = &mut edited;
            for step in parents {
                parent = match step {
                    Value::String(key) => &mut parent[key.as_str()],
                    _ => &mut parent[step.as_u64().unwrap() as usize],
                };
            }
            parent
                .as_object_mut()
                .unwrap()
                .remove(last.as_str().unwrap());
            assert!(
                serde_json::from_value::<Bundle>(edited).is_err(),
                "a bundle without {path:?} was accepted"
            );
        }
    }

    #[test]
    fn the_sample_parses_unedited() {
        assert!(parse_edited(|_| {}).is_ok());
    }

    #[test]
    fn each_out_of_range_value_is_refused_by_the_typed_parse() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "format_version",
                Box::new(|d| d["format_version"] = 2.into()),
            ),
            ("digest", Box::new(|d| d["digest"] = "sha256:XYZ".into())),
            (
                "sha256",
                Box::new(|d| d["sources"][0]["sha256"] = "ABC".into()),
            ),
            (
                "line",
                Box::new(|d| d["gateways"][0]["source"]["line"] = 0.into()),
            ),
            (
                "column",
                Box::new(|d| d["gateways"][0]["routes"][0]["source"]["column"] = 0.into()),
            ),
            (
                "weight",
                Box::new(|d| {
                    let route = d["gateways"][0]["routes"]
                        .as_array_mut()
                        .unwrap()
                        .iter_mut()
                        .find(|r| r["action"]["kind"] == "forward")
                        .unwrap();
                    route["action"]["targets"][0]["weight"] = 101.into();
                }),
            ),
            (
                "status",
                Box::new(|d| {
                    let route = d["gateways"][0]["routes"]
                        .as_array_mut()
                        .unwrap()
                        .iter_mut()
                        .find(|r| r["action"]["kind"] == "respond")
                        .unwrap();
                    route["action"]["status"] = 42.into();
                }),
            ),
            (
                "retry status",
                Box::new(|d| {
                    let service = d["services"]
                        .as_array_mut()
                        .unwrap()
                        .iter_mut()
                        .find(|s| s["retry"].is_object())
                        .unwrap();
                    service["retry"]["on"] = serde_json::json!([600]);
                }),
            ),
            (
                "max_ejected_percent",
                Box::new(|d| {
                    let service = d["services"]
                        .as_array_mut()
                        .unwrap()
                        .iter_mut()
                        .find(|s| s["circuit_breaker"].is_object())
                        .unwrap();
                    service["circuit_breaker"]["max_ejected_percent"] = 101.into();
                }),
            ),
        ];
        for (what, edit) in edits {
            assert!(
                parse_edited(edit).is_err(),
                "{what} out of range was accepted"
            );
        }
    }
}
