//! Kafka topics and streams.

use meshwork_bundle::{Deliver, Stream, StreamSink, StreamSource, Topic};

use super::context::EmitContext;
use super::lower_service::backoff_bounds;
use crate::syntax::ast::{self, StreamStatement};

/// The delivery path when `deliver` names none.
pub const DEFAULT_DELIVER_PATH: &str = "/";
/// Records in flight per stream when `deliver` sets no concurrency.
pub const DEFAULT_DELIVER_CONCURRENCY: u64 = 1;
/// Delivery retries per record before the dead letter, when none are written.
pub const DEFAULT_DELIVER_RETRY: u64 = 3;
/// Delivery backoff bounds when none are written.
pub const DEFAULT_DELIVER_BACKOFF_MS: (u64, u64) = (100, 5_000);

/// Lowers the declarations of one topic: external if any says so, the first partition count.
pub fn lower_topic(cx: &EmitContext, declarations: &[&ast::Topic]) -> Option<Topic> {
    let first = declarations.first()?;
    Some(Topic {
        name: first.name.node.clone(),
        external: declarations.iter().any(|t| t.external),
        partitions: declarations
            .iter()
            .find_map(|t| t.partitions.as_ref().map(|p| p.node)),
        source: cx.location(first.span),
    })
}

/// Lowers the declarations of one stream (statements merged, first single value wins), or
/// reports a stream without `from` and returns `None`.
pub fn lower_stream(cx: &mut EmitContext, declarations: &[&ast::Stream]) -> Option<Stream> {
    let first = declarations.first()?;
    let statements: Vec<&StreamStatement> = declarations
        .iter()
        .flat_map(|s| s.statements.iter())
        .collect();
    let Some(from) = statements.iter().find_map(|s| match s {
        StreamStatement::From { topic, group, .. } => Some(StreamSource {
            topic: topic.node.clone(),
            group: group
                .as_ref()
                .map_or_else(|| first.name.node.clone(), |g| g.node.clone()),
        }),
        _ => None,
    }) else {
        cx.missing(first.name.span, "`from`", "add `from topic \"T\"`");
        return None;
    };
    Some(Stream {
        name: first.name.node.clone(),
        from,
        when: statements.iter().find_map(|s| match s {
            StreamStatement::When(cel) => Some(cel.source.clone()),
            _ => None,
        }),
        to: statements.iter().find_map(|s| match s {
            StreamStatement::To {
                topic,
                key,
                value,
                exactly_once,
                ..
            } => Some(StreamSink {
                topic: topic.node.clone(),
                key: key.as_ref().map(|k| k.source.clone()),
                value: value.as_ref().map(|v| v.source.clone()),
                exactly_once: *exactly_once,
            }),
            _ => None,
        }),
        deliver: statements.iter().find_map(|s| match s {
            StreamStatement::Deliver(d) => Some(lower_deliver(d)),
            _ => None,
        }),
        dead_letter: statements.iter().find_map(|s| match s {
            StreamStatement::DeadLetter(t) => Some(t.node.clone()),
            _ => None,
        }),
        source: cx.location(first.span),
    })
}

fn lower_deliver(deliver: &ast::Deliver) -> Deliver {
    let (backoff_min_ms, backoff_max_ms) =
        backoff_bounds(deliver.backoff.as_ref(), DEFAULT_DELIVER_BACKOFF_MS);
    Deliver {
        service: deliver.service.node.clone(),
        path: deliver
            .path
            .as_ref()
            .map_or_else(|| DEFAULT_DELIVER_PATH.to_string(), |p| p.node.clone()),
        concurrency: deliver
            .concurrency
            .as_ref()
            .map_or(DEFAULT_DELIVER_CONCURRENCY, |n| n.node),
        retry: deliver
            .retry
            .as_ref()
            .map_or(DEFAULT_DELIVER_RETRY, |n| n.node),
        backoff_min_ms,
        backoff_max_ms,
    }
}
