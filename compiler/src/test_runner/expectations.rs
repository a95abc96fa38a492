//! Checking a test's expectations against what the runtime's code decided. A failed expectation
//! says what was expected, what happened, and which rule decided it.

use meshwork_bundle::SourceLocation;

use crate::syntax::test_ast::{ExpectKind, Expectation};

use super::outcome::{Outcome, StreamVerdict};

/// `file:line:column`.
pub fn at(location: &SourceLocation) -> String {
    format!("{}:{}:{}", location.file, location.line, location.column)
}

/// What happened, in one line, naming the deciding rule.
pub fn describe_outcome(outcome: &Outcome) -> String {
    let route = outcome
        .route
        .as_ref()
        .map(|(name, source)| format!("route `{name}` ({})", at(source)));
    if let Some(refusal) = &outcome.refusal {
        return format!(
            "{}refused {}by {}{}: {}",
            route.map(|r| format!("{r} ")).unwrap_or_default(),
            outcome
                .status
                .map(|s| format!("with {s} "))
                .unwrap_or_default(),
            refusal.step,
            refusal
                .source
                .as_ref()
                .map(|s| format!(" at {}", at(s)))
                .unwrap_or_else(|| " (the default)".to_string()),
            refusal.reason
        );
    }
    if let Some(error) = &outcome.routing_error {
        return format!(
            "{} {error}",
            outcome.status.map_or("?".to_string(), |s| s.to_string())
        );
    }
    let mut parts = Vec::new();
    if let Some(route) = route {
        parts.push(format!("{route} admitted it"));
    } else if outcome.allowed {
        parts.push(format!(
            "the mesh allows it{}",
            outcome
                .mesh_rule
                .as_ref()
                .map(|s| format!(" by the rule at {}", at(s)))
                .unwrap_or_else(|| " by default".to_string())
        ));
    }
    if let Some(targets) = &outcome.forward {
        parts.push(format!("forwarded to {}", describe_targets(targets)));
    }
    if let Some(record) = &outcome.produced {
        parts.push(format!("produced to \"{}\"", record.topic));
    }
    if let Some(status) = outcome.status {
        parts.push(format!("answered {status}"));
    }
    for step in &outcome.streams {
        parts.push(describe_stream_step(step));
    }
    if parts.is_empty() {
        "nothing happened".to_string()
    } else {
        parts.join("; ")
    }
}

fn describe_targets(targets: &[(String, u8)]) -> String {
    if targets.len() == 1 {
        return targets[0].0.clone();
    }
    targets
        .iter()
        .map(|(s, w)| format!("{s} {w}%"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe_stream_step(step: &super::outcome::StreamStep) -> String {
    let verdict = match &step.verdict {
        StreamVerdict::Filtered => "filtered it out".to_string(),
        StreamVerdict::Passed {
            emitted,
            delivered_to,
        } => {
            let mut what = Vec::new();
            if let Some(record) = emitted {
                what.push(format!(
                    "wrote it to \"{}\"{}",
                    record.topic,
                    record
                        .key
                        .as_ref()
                        .map(|k| format!(" with key \"{}\"", text(k)))
                        .unwrap_or_default()
                ));
            }
            if let Some(service) = delivered_to {
                what.push(format!("delivered it to {service}"));
            }
            what.join(" and ")
        }
        StreamVerdict::Failed {
            dead_letter,
            reason,
            message,
        } => format!(
            "failed ({reason}: {message}){}",
            dead_letter
                .as_ref()
                .map(|t| format!(", dead-lettered to \"{t}\""))
                .unwrap_or_else(|| ", and has no dead letter".to_string())
        ),
    };
    format!("stream `{}` ({}) {verdict}", step.stream, at(&step.source))
}

/// Whether `place` ("file.mesh:LINE", "file.mesh" or "LINE") names `location`.
fn names_location(place: &str, location: &SourceLocation) -> bool {
    let (file, line) = match place.rsplit_once(':') {
        Some((file, line)) if line.bytes().all(|b| b.is_ascii_digit()) => (file, line.parse().ok()),
        _ if place.bytes().all(|b| b.is_ascii_digit()) => ("", place.parse().ok()),
        _ => (place, None),
    };
    let file_matches =
        file.is_empty() || location.file == file || location.file.ends_with(&format!("/{file}"));
    file_matches && line.is_none_or(|l: u32| l == location.line)
}

/// Values compare as JSON when both sides are JSON, else byte for byte.
fn same_value(expected: &str, actual: &[u8]) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(expected),
        serde_json::from_slice::<serde_json::Value>(actual),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => expected.as_bytes() == actual,
    }
}

/// The deciding rule's place: the refusing rule, the mesh rule, the route, or the first stream.
fn deciding_rule(outcome: &Outcome) -> Option<&SourceLocation> {
    if let Some(refusal) = &outcome.refusal {
        return refusal.source.as_ref();
    }
    if outcome.mesh_rule.is_some() {
        return outcome.mesh_rule.as_ref();
    }
    outcome
        .route
        .as_ref()
        .map(|(_, source)| source)
        .or_else(|| outcome.streams.first().map(|s| &s.source))
}

/// `None` when the expectation holds, else why not.
pub fn check(expectation: &Expectation, outcome: &Outcome) -> Option<String> {
    let happened = || describe_outcome(outcome);
    match &expectation.kind {
        ExpectKind::Status(expected) => match outcome.status {
            Some(status) if status == expected.node => None,
            Some(status) => Some(format!("expected status {}, got {status}: {}", expected.node, happened())),
            None => Some(format!(
                "expected status {}, but the request is forwarded ({}), so its status is the upstream's; expect `forward` instead",
                expected.node,
                happened()
            )),
        },
        ExpectKind::Route(expected) => match &outcome.route {
            Some((name, _)) if *name == expected.node => None,
            Some((name, source)) => Some(format!(
                "expected route `{}`, but route `{name}` ({}) takes the request",
                expected.node,
                at(source)
            )),
            None => Some(format!("expected route `{}`, but {}", expected.node, happened())),
        },
        ExpectKind::Allowed => (!outcome.allowed).then(|| format!("expected it to be let through, but {}", happened())),
        ExpectKind::Denied(step) => match (&outcome.refusal, step) {
            (Some(refusal), Some(step)) if refusal.step != step.node.as_str() => Some(format!(
                "expected a refusal by {}, but {}",
                step.node.as_str(),
                happened()
            )),
            (Some(_), _) => None,
            (None, step) => Some(format!(
                "expected a refusal{}, but {}",
                step.as_ref().map(|s| format!(" by {}", s.node.as_str())).unwrap_or_default(),
                happened()
            )),
        },
        ExpectKind::Reason(part) => {
            let reason = outcome
                .refusal
                .as_ref()
                .map(|r| r.reason.as_str())
                .or(outcome.routing_error.as_deref())
                .or_else(|| outcome.streams.iter().find_map(|s| match &s.verdict {
                    StreamVerdict::Failed { message, .. } => Some(message.as_str()),
                    _ => None,
                }));
            match reason {
                Some(reason) if reason.contains(part.node.as_str()) => None,
                _ => Some(format!("expected a reason containing \"{}\", but {}", part.node, happened())),
            }
        }
        ExpectKind::Rule(place) => match deciding_rule(outcome) {
            Some(location) if names_location(&place.node, location) => None,
            Some(location) => Some(format!(
                "expected the rule at {} to decide, but the rule at {} did: {}",
                place.node,
                at(location),
                happened()
            )),
            None => Some(format!("expected the rule at {} to decide, but the default did: {}", place.node, happened())),
        },
        ExpectKind::Forward(expected) => {
            let Some(actual) = &outcome.forward else {
                return Some(format!("expected a forward, but {}", happened()));
            };
            let same_services = expected.len() == actual.len()
                && expected.iter().all(|e| actual.iter().any(|(s, _)| *s == e.service.node));
            let same_weights = expected.iter().all(|e| {
                e.weight.as_ref().is_none_or(|w| {
                    actual
                        .iter()
                        .any(|(s, weight)| *s == e.service.node && *weight == w.node.value)
                })
            });
            (!(same_services && same_weights)).then(|| {
                let wanted: Vec<String> = expected
                    .iter()
                    .map(|e| match &e.weight {
                        Some(w) => format!("{} {}%", e.service.node, w.node.value),
                        None => e.service.node.clone(),
                    })
                    .collect();
                format!(
                    "expected a forward to {}, but it goes to {}",
                    wanted.join(", "),
                    describe_targets(actual)
                )
            })
        }
        ExpectKind::Header { name, value } => {
            if outcome.forward.is_none() {
                return Some(format!("expected an upstream header {}, but nothing is forwarded: {}", name.node, happened()));
            }
            let found = outcome
                .upstream_headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(&name.node))
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>();
            (!found.contains(&value.node.as_str())).then(|| {
                format!(
                    "expected the upstream request to carry `{}: {}`, but it carries {}",
                    name.node,
                    value.node,
                    if found.is_empty() { "no such header".to_string() } else { format!("`{}`", found.join("`, `")) }
                )
            })
        }
        ExpectKind::NoHeader(name) => {
            if outcome.forward.is_none() {
                return Some(format!("expected an upstream request without {}, but nothing is forwarded: {}", name.node, happened()));
            }
            outcome
                .upstream_headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&name.node))
                .map(|(n, v)| format!("expected no `{}` upstream, but the request carries `{n}: {v}`", name.node))
        }
        ExpectKind::ResponseHeader { name, value } => {
            let found: Vec<&str> = outcome
                .response_headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(&name.node))
                .map(|(_, v)| v.as_str())
                .collect();
            (!found.contains(&value.node.as_str())).then(|| {
                format!(
                    "expected the answer to carry `{}: {}`, but it carries {} ({})",
                    name.node,
                    value.node,
                    if found.is_empty() { "no such header".to_string() } else { format!("`{}`", found.join("`, `")) },
                    happened()
                )
            })
        }
        ExpectKind::Body(expected) => match &outcome.body {
            Some(body) if same_value(&expected.node, body) => None,
            Some(body) => Some(format!("expected the body \"{}\", got \"{}\"", expected.node, text(body))),
            None => Some(format!("expected the body \"{}\", but the gateway does not answer itself: {}", expected.node, happened())),
        },
        ExpectKind::Produce { topic, key } => match &outcome.produced {
            Some(record) if record.topic != topic.node => Some(format!(
                "expected a record on \"{}\", but it goes to \"{}\"",
                topic.node, record.topic
            )),
            Some(record) => match key {
                Some(key) if record.key.as_deref() != Some(key.node.as_bytes()) => Some(format!(
                    "expected the record key \"{}\", got {}",
                    key.node,
                    record.key.as_ref().map_or("no key".to_string(), |k| format!("\"{}\"", text(k)))
                )),
                _ => None,
            },
            None => Some(format!("expected a record on \"{}\", but {}", topic.node, happened())),
        },
        ExpectKind::Emit { topic, key, value } => {
            let emitted = outcome.streams.iter().filter_map(|s| match &s.verdict {
                StreamVerdict::Passed { emitted: Some(record), .. } if record.topic == topic.node => Some(record),
                _ => None,
            });
            let mut seen = Vec::new();
            for record in emitted {
                let key_ok = key.as_ref().is_none_or(|k| record.key.as_deref() == Some(k.node.as_bytes()));
                let value_ok = value
                    .as_ref()
                    .is_none_or(|v| record.value.as_deref().is_some_and(|actual| same_value(&v.node, actual)));
                if key_ok && value_ok {
                    return None;
                }
                seen.push(format!(
                    "key {} value {}",
                    record.key.as_ref().map_or("none".to_string(), |k| format!("\"{}\"", text(k))),
                    record.value.as_ref().map_or("none".to_string(), |v| format!("\"{}\"", text(v)))
                ));
            }
            Some(if seen.is_empty() {
                format!("expected a record written to \"{}\", but {}", topic.node, happened())
            } else {
                format!(
                    "expected a record written to \"{}\"{}{}, but the records written there have {}",
                    topic.node,
                    key.as_ref().map(|k| format!(" with key \"{}\"", k.node)).unwrap_or_default(),
                    value.as_ref().map(|v| format!(" with value {}", v.node)).unwrap_or_default(),
                    seen.join("; ")
                )
            })
        }
        ExpectKind::DeadLetter { topic, reason } => {
            let failed = outcome.streams.iter().find(|s| matches!(&s.verdict,
                StreamVerdict::Failed { dead_letter: Some(t), reason: r, message }
                    if *t == topic.node && reason.as_ref().is_none_or(|want| *r == want.node || message.contains(&want.node))));
            failed.is_none().then(|| format!(
                "expected the record dead-lettered to \"{}\"{}, but {}",
                topic.node,
                reason.as_ref().map(|r| format!(" ({})", r.node)).unwrap_or_default(),
                happened()
            ))
        }
        ExpectKind::Deliver(service) => {
            let delivered = outcome.streams.iter().any(|s| matches!(&s.verdict,
                StreamVerdict::Passed { delivered_to: Some(to), .. } if *to == service.node));
            (!delivered).then(|| format!("expected a delivery to {}, but {}", service.node, happened()))
        }
        ExpectKind::Filtered(stream) => {
            let filtered = outcome.streams.iter().any(|s| {
                s.verdict == StreamVerdict::Filtered
                    && stream.as_ref().is_none_or(|name| s.stream == name.node)
            });
            (!filtered).then(|| format!(
                "expected {} to filter the record out, but {}",
                stream.as_ref().map_or("a stream".to_string(), |s| format!("stream `{}`", s.node)),
                happened()
            ))
        }
        ExpectKind::Fault(_) | ExpectKind::NoFault | ExpectKind::Mirror(_) | ExpectKind::NoMirror => {
            super::traffic_expectations::check(&expectation.kind, outcome, happened)
        }
    }
}

#[cfg(test)]
mod tests;
