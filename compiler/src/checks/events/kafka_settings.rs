//! Produce and stream settings Kafka or meshd cannot honour (E0405).
//!
//! *What*: `acks 0` on a sync produce, a topic with 0 partitions, an empty consumer group, a
//! `deliver` with concurrency 0 or a path not starting with `/`.
//! *Why*: sync mode promises a 200 only after the broker acknowledged the record, and with
//! `acks 0` it never does (the offset is unknown); the rest cannot run at all.
//! *Example*: `produce topic "log" acks 0` (sync is the default).

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::INVALID_KAFKA_SETTING;

/// Every impossible Kafka setting.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(produce) = route.produce() else {
            continue;
        };
        let sync = produce
            .mode
            .as_ref()
            .is_none_or(|m| m.node == ast::ProduceMode::Sync);
        if let (Some(acks), true) = (&produce.acks, sync) {
            if acks.node == ast::Acks::None {
                let mut d =
                    Diagnostic::error(&INVALID_KAFKA_SETTING, "a sync produce cannot use `acks 0`")
                        .with_label(acks.span, "the broker never acknowledges");
                if let Some(mode) = &produce.mode {
                    d = d.with_label(mode.span, "sync: answer 200 after the broker acknowledges");
                }
                out.push(d.with_help("sync mode answers 200 with the record's offset only after an acknowledgement; use `acks 1` or `acks all`, or `mode async` (202 once queued)"));
            }
        }
    }
    for topic in &program.topics {
        if let Some(partitions) = topic.partitions.as_ref().filter(|p| p.node == 0) {
            out.push(
                Diagnostic::error(
                    &INVALID_KAFKA_SETTING,
                    format!("topic \"{}\" cannot have 0 partitions", topic.name.node),
                )
                .with_label(partitions.span, "Kafka needs at least one")
                .with_help("leave `partitions` out for the broker's default, or give 1 or more"),
            );
        }
    }
    for stream in &program.streams {
        for statement in &stream.statements {
            match statement {
                ast::StreamStatement::From {
                    group: Some(group), ..
                } if group.node.is_empty() => out.push(
                    Diagnostic::error(&INVALID_KAFKA_SETTING, "a consumer group cannot be empty")
                        .with_label(group.span, "empty group id")
                        .with_help(format!(
                            "name the group, or leave `group` out to use the stream's name `{}`",
                            stream.name.node
                        )),
                ),
                ast::StreamStatement::Deliver(deliver) => {
                    if let Some(concurrency) = deliver.concurrency.as_ref().filter(|c| c.node == 0)
                    {
                        out.push(
                            Diagnostic::error(
                                &INVALID_KAFKA_SETTING,
                                "a delivery concurrency of 0 delivers nothing",
                            )
                            .with_label(concurrency.span, "no record would ever be in flight")
                            .with_help("use 1 (in order) or more"),
                        );
                    }
                    if let Some(path) = deliver.path.as_ref().filter(|p| !p.node.starts_with('/')) {
                        out.push(
                            Diagnostic::error(
                                &INVALID_KAFKA_SETTING,
                                format!("delivery path \"{}\" does not start with `/`", path.node),
                            )
                            .with_label(path.span, "not a request path")
                            .with_help(format!("write \"/{}\"", path.node)),
                        );
                    }
                }
                _ => {}
            }
        }
    }
    out
}
