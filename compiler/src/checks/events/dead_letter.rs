//! A dead letter equal to the stream's source (E0402).
//!
//! *What*: `dead_letter` names the topic the stream reads.
//! *Why*: a record that fails is written back to where it came from, read again, fails again:
//! a poison message loops forever and floods the topic.
//! *Example*: `stream s { from topic "orders" … dead_letter "orders" }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::DEAD_LETTER_IS_SOURCE;

/// Every stream whose dead letter is its source.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for stream in &program.streams {
        let (Some(source), Some(dead_letter)) = (stream.source_topic(), stream.dead_letter())
        else {
            continue;
        };
        if source.node == dead_letter.node {
            out.push(
                Diagnostic::error(
                    &DEAD_LETTER_IS_SOURCE,
                    format!(
                        "stream `{}` dead-letters into the topic it reads",
                        stream.name.node
                    ),
                )
                .with_label(dead_letter.span, "failed records would be read again")
                .with_label(source.span, "the source topic")
                .with_help(format!(
                    "use a topic of its own, e.g. \"{}-dlq\"",
                    source.node
                )),
            );
        }
    }
    out
}
