//! Two streams in one consumer group reading the same topic (E0406).
//!
//! *What*: two streams name the same `group` (a stream's group defaults to its name) and read
//! the same topic.
//! *Why*: Kafka splits a topic's partitions among a group's members, so each stream would see
//! only part of the records, silently, and which part changes at every rebalance.
//! *Example*: `stream a { from topic "log" group "alerts" … }` and `stream b { from topic "log"
//! group "alerts" … }`.

use std::collections::BTreeMap;

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::source::Span;
use crate::syntax::ast;

use super::SHARED_CONSUMER_GROUP;

/// Every stream that shares a consumer group and topic with an earlier one.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut first: BTreeMap<(&str, &str), (&ast::Stream, Span)> = BTreeMap::new();
    let mut out = Vec::new();
    for stream in &program.streams {
        for statement in &stream.statements {
            let ast::StreamStatement::From { topic, group, .. } = statement else {
                continue;
            };
            let (group_name, span) = match group {
                Some(g) => (g.node.as_str(), g.span),
                None => (stream.name.node.as_str(), stream.name.span),
            };
            match first.get(&(group_name, topic.node.as_str())) {
                Some((earlier, earlier_span)) if earlier.name.node != stream.name.node => out.push(
                    Diagnostic::error(&SHARED_CONSUMER_GROUP, format!("streams `{}` and `{}` share consumer group \"{group_name}\" on \"{}\"", earlier.name.node, stream.name.node, topic.node))
                        .with_label(span, "same group")
                        .with_label(*earlier_span, "as this stream")
                        .with_help("Kafka would split the records between them; give each stream its own group"),
                ),
                Some(_) => {}
                None => {
                    first.insert((group_name, topic.node.as_str()), (stream, span));
                }
            }
        }
    }
    out
}
