//! `stream NAME { from … when … to … deliver … dead_letter … }` and `topic "NAME" …`.

use crate::syntax::ast::{Stream, StreamStatement, Topic};

use super::layout::{Block, Entry, Fold, Line};
use super::literals::{backoff, string};
use super::source_scan::SourceText;

/// The stream block: one statement per line, in source order.
pub fn stream(source: &SourceText<'_>, stream: &Stream) -> Entry {
    Block {
        head: format!("stream {}", stream.name.node),
        open: source.open_brace(stream.name.span.end as usize),
        close: stream.span.end as usize - 1,
        children: stream.statements.iter().map(statement).collect(),
        fold: Fold::Never,
    }
    .at(stream.span.start as usize)
}

fn statement(statement: &StreamStatement) -> Entry {
    let span = statement.span();
    let line = match statement {
        StreamStatement::From { topic, group, .. } => Line::new()
            .text("from topic")
            .text(string(&topic.node))
            .maybe(group.as_ref().map(|g| format!("group {}", string(&g.node)))),
        StreamStatement::When(condition) => Line::new().text("when").cel(&condition.source),
        StreamStatement::To {
            topic,
            key,
            value,
            exactly_once,
            ..
        } => {
            let mut line = Line::new().text("to topic").text(string(&topic.node));
            if let Some(key) = key {
                line = line.text("key").cel(&key.source);
            }
            if let Some(value) = value {
                line = line.text("value").cel(&value.source);
            }
            if *exactly_once {
                line = line.text("exactly_once");
            }
            line
        }
        StreamStatement::Deliver(deliver) => Line::new()
            .text("deliver")
            .text(deliver.service.node.clone())
            .maybe(
                deliver
                    .path
                    .as_ref()
                    .map(|p| format!("path {}", string(&p.node))),
            )
            .maybe(
                deliver
                    .concurrency
                    .as_ref()
                    .map(|n| format!("concurrency {}", n.node)),
            )
            .maybe(deliver.retry.as_ref().map(|n| format!("retry {}", n.node)))
            .maybe(
                deliver
                    .backoff
                    .as_ref()
                    .map(|b| format!("backoff {}", backoff(b))),
            ),
        StreamStatement::DeadLetter(topic) => {
            Line::new().text("dead_letter").text(string(&topic.node))
        }
    };
    line.at(span.start as usize, span.end as usize)
}

/// `topic "NAME" [external] [{ partitions N }]`: `external` is always written after the name.
pub fn topic(source: &SourceText<'_>, topic: &Topic) -> Entry {
    let start = topic.span.start as usize;
    let end = topic.span.end as usize;
    let head = format!(
        "topic {}{}",
        string(&topic.name.node),
        if topic.external { " external" } else { "" }
    );
    let Some(partitions) = &topic.partitions else {
        return Line::new().text(head).at(start, end);
    };
    let mut open = source.skip_trivia(topic.name.span.end as usize);
    if source.text[open..].starts_with("external") {
        open = source.skip_trivia(open + "external".len());
    }
    let partitions_start = source
        .find_word(open, partitions.span.start as usize, "partitions")
        .map(|(s, _)| s);
    let child = Line::new()
        .text("partitions")
        .text(partitions.node.to_string())
        .at(
            partitions_start.unwrap_or(partitions.span.start as usize),
            partitions.span.end as usize,
        );
    Block {
        head,
        open,
        close: end - 1,
        children: vec![child],
        fold: Fold::UpTo(usize::MAX),
    }
    .at(start)
}
