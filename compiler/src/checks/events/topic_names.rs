//! Topic names Kafka refuses (E0403) and names that collide in Kafka's metrics (E0404).
//!
//! *What*: a topic name must be 1 to 249 characters of `[a-zA-Z0-9._-]` and not `.` or `..`;
//! two names that differ only by `.` versus `_` collide.
//! *Why*: the broker rejects the first; for the second it refuses to create the later topic
//! ("collides with existing topics"), because both map to the same metric name. Either way
//! the produce fails at run time.
//! *Example*: `produce topic "captain's log"`; `captains.log` and `captains_log` in one program.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::topic_uses::topic_uses;
use super::{COLLIDING_TOPIC_NAMES, INVALID_TOPIC_NAME};

/// The longest topic name Kafka accepts.
pub const MAX_TOPIC_NAME: usize = 249;

/// Why Kafka refuses this topic name, if it does.
pub fn topic_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a topic name cannot be empty".to_string());
    }
    if name == "." || name == ".." {
        return Some(format!("`{name}` is reserved"));
    }
    if name.len() > MAX_TOPIC_NAME {
        return Some(format!(
            "{} characters; Kafka allows at most {MAX_TOPIC_NAME}",
            name.chars().count()
        ));
    }
    let bad: BTreeSet<char> = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .collect();
    if !bad.is_empty() {
        let shown: Vec<String> = bad.iter().map(|c| format!("{c:?}")).collect();
        return Some(format!(
            "Kafka topic names cannot contain {}",
            shown.join(", ")
        ));
    }
    None
}

/// Every invalid or colliding topic name (each reported once per mention).
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut by_metric_name: BTreeMap<String, &str> = BTreeMap::new();
    let mut reported: BTreeSet<(&str, &str)> = BTreeSet::new();
    for topic_use in topic_uses(program) {
        let name = topic_use.name.node.as_str();
        if let Some(problem) = topic_name_problem(name) {
            out.push(
                Diagnostic::error(
                    &INVALID_TOPIC_NAME,
                    format!("\"{name}\" is not a valid Kafka topic name"),
                )
                .with_label(topic_use.name.span, problem)
                .with_help("use 1 to 249 letters, digits, `.`, `_` or `-`, e.g. \"captains-log\""),
            );
            continue;
        }
        let metric_name = name.replace('.', "_");
        let first = *by_metric_name.entry(metric_name).or_insert(name);
        if first != name && reported.insert((first, name)) {
            out.push(
                Diagnostic::error(&COLLIDING_TOPIC_NAMES, format!("topics \"{first}\" and \"{name}\" collide in Kafka"))
                    .with_label(topic_use.name.span, format!("differs from \"{first}\" only by `.` and `_`"))
                    .with_help("Kafka refuses to create a topic whose name equals another's with `.` and `_` swapped; pick one separator"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_topic_name_rules() {
        assert!(topic_name_problem("captains-log").is_none());
        assert!(topic_name_problem("a.b_c-D9").is_none());
        assert!(topic_name_problem(&"x".repeat(249)).is_none());
        assert!(topic_name_problem(&"x".repeat(250)).is_some());
        assert!(topic_name_problem(".").is_some() && topic_name_problem("..").is_some());
        assert!(topic_name_problem("captain's log").is_some());
        assert!(topic_name_problem("").is_some());
    }
}
