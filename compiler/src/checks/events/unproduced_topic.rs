//! A stream reading a topic nothing produces (W0401).
//!
//! *What*: no route produces the topic, no stream writes to it (or dead-letters into it), and it
//! is not declared `external`.
//! *Why*: the stream waits forever; almost always a misspelt topic name.
//! *Example*: `stream s { from topic "captains-logs" … }` when routes produce `captains-log`.

use std::collections::BTreeSet;

use crate::diagnostics::suggest::closest;
use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::topic_uses::{topic_uses, TopicRole};
use super::TOPIC_NEVER_PRODUCED;

/// Every consumed topic without a producer.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let uses = topic_uses(program);
    let produced: BTreeSet<&str> = uses
        .iter()
        .filter(|u| {
            matches!(
                u.role,
                TopicRole::ProducedByRoute | TopicRole::ProducedByStream | TopicRole::DeadLetter
            )
        })
        .map(|u| u.name.node.as_str())
        .collect();
    let known: BTreeSet<&str> = uses
        .iter()
        .filter(|u| !matches!(u.role, TopicRole::Consumed | TopicRole::Served))
        .map(|u| u.name.node.as_str())
        .collect();
    let mut out = Vec::new();
    for consumed in uses.iter().filter(|u| u.role == TopicRole::Consumed) {
        let name = consumed.name.node.as_str();
        if produced.contains(name) || program.symbols.is_external_topic(name) {
            continue;
        }
        // The topic itself may be declared (known) without a producer: never suggest it.
        let others = known.iter().copied().filter(|k| *k != name);
        let help = match closest(name, others) {
            Some(suggestion) => format!("did you mean \"{suggestion}\"? If another system produces \"{name}\", declare it: `topic \"{name}\" external`"),
            None => format!("if another system produces it, declare it: `topic \"{name}\" external`"),
        };
        out.push(
            Diagnostic::warning(
                &TOPIC_NEVER_PRODUCED,
                format!("nothing in this program produces \"{name}\""),
            )
            .with_label(consumed.name.span, "this stream would wait forever")
            .with_help(help),
        );
    }
    out
}
