//! One topic written in different shapes (W0411).
//!
//! *What*: two producers of a topic whose record values visibly differ in shape: a route writing
//! the request `envelope` beside one writing the raw body or a stream's `value {…}` map, or two
//! streams writing maps with different keys.
//! *Why*: every consumer of the topic (and its schema, if it has one) must then read two kinds of
//! records; usually one producer was forgotten when the format changed.
//! *Example*: `route a { … produce topic "log" value envelope }` and
//! `route b { … produce topic "log" }`.

use std::collections::BTreeMap;

use cel::common::ast::{EntryExpr, Expr, LiteralValue};

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::source::Span;
use crate::syntax::ast;

use super::MIXED_TOPIC_SHAPES;

/// The shape of the values one producer writes, as far as it is visible.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// The request envelope `{method, path, headers, query, body}`.
    Envelope,
    /// The raw request body (any shape: compared only with the envelope).
    RawBody,
    /// A stream's `value {…}` map, with its keys sorted.
    Map(Vec<String>),
}

impl Shape {
    fn describe(&self) -> String {
        match self {
            Shape::Envelope => "the request envelope {method, path, headers, query, body}".into(),
            Shape::RawBody => "the raw request body".into(),
            Shape::Map(keys) => format!("a map with keys {{{}}}", keys.join(", ")),
        }
    }

    /// Whether records of the two shapes visibly differ.
    fn differs_from(&self, other: &Shape) -> bool {
        match (self, other) {
            (Shape::RawBody, Shape::RawBody) => false,
            (Shape::RawBody, Shape::Map(_)) | (Shape::Map(_), Shape::RawBody) => false,
            (a, b) => a != b,
        }
    }
}

/// Every topic whose producers write differently shaped values.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut producers: BTreeMap<&str, Vec<(Shape, String, Span)>> = BTreeMap::new();
    for (_, route) in program.routes() {
        let Some(produce) = route.produce() else {
            continue;
        };
        let ast::TopicRef::Fixed(topic) = &produce.topic else {
            continue;
        };
        let shape = match produce.value.as_ref().map(|v| v.node) {
            Some(ast::ValueFormat::Envelope) => Shape::Envelope,
            _ => Shape::RawBody,
        };
        let who = format!("route `{}`", route.name.node);
        producers
            .entry(&topic.node)
            .or_default()
            .push((shape, who, produce.span));
    }
    for stream in &program.streams {
        for statement in &stream.statements {
            let ast::StreamStatement::To {
                topic,
                value: Some(value),
                span,
                ..
            } = statement
            else {
                continue;
            };
            let Some(keys) = map_keys(&value.source) else {
                continue;
            };
            let who = format!("stream `{}`", stream.name.node);
            producers
                .entry(&topic.node)
                .or_default()
                .push((Shape::Map(keys), who, *span));
        }
    }
    let mut out = Vec::new();
    for (topic, writers) in producers {
        let Some((first_shape, first_who, first_span)) = writers.first() else {
            continue;
        };
        let Some((shape, who, span)) = writers
            .iter()
            .skip(1)
            .find(|(shape, _, _)| shape.differs_from(first_shape))
        else {
            continue;
        };
        out.push(
            Diagnostic::warning(
                &MIXED_TOPIC_SHAPES,
                format!("topic \"{topic}\" is written in two shapes by {first_who} and {who}"),
            )
            .with_label(*span, format!("writes {}", shape.describe()))
            .with_label(*first_span, format!("writes {}", first_shape.describe()))
            .with_help("write one shape to a topic (or give each shape its own topic), so its consumers and its schema read one kind of record"),
        );
    }
    out
}

/// The keys of a `{…}` map literal with string keys, sorted; `None` for anything else.
fn map_keys(source: &str) -> Option<Vec<String>> {
    let parsed = cel::parser::Parser::new().parse(source).ok()?;
    let Expr::Map(map) = &parsed.expr else {
        return None;
    };
    let mut keys = Vec::new();
    for entry in &map.entries {
        let EntryExpr::MapEntry(entry) = &entry.expr else {
            return None;
        };
        let Expr::Literal(LiteralValue::String(key)) = &entry.key.expr else {
            return None;
        };
        keys.push(key.inner().to_owned());
    }
    keys.sort();
    Some(keys)
}
