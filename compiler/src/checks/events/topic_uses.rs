//! Every place a topic name is written, with what it does there, so the event checks read the
//! program's topics one way.

use crate::resolve::Program;
use crate::source::Spanned;
use crate::syntax::ast;

/// What a mention of a topic does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicRole {
    /// `topic "NAME"`.
    Declared,
    /// A route's `produce topic "NAME"` (or an entry of its param allow-list).
    ProducedByRoute,
    /// A stream's `to topic "NAME"`.
    ProducedByStream,
    /// A stream's `dead_letter "NAME"`.
    DeadLetter,
    /// A stream's `from topic "NAME"`.
    Consumed,
    /// A route's `serve topic "NAME"` (read for HTTP clients).
    Served,
}

/// One mention of a topic.
pub struct TopicUse<'a> {
    pub name: &'a Spanned<String>,
    pub role: TopicRole,
}

/// Every topic mention, in program order.
pub fn topic_uses<'a>(program: &Program<'a>) -> Vec<TopicUse<'a>> {
    let mut uses = Vec::new();
    for topic in &program.topics {
        uses.push(TopicUse {
            name: &topic.name,
            role: TopicRole::Declared,
        });
    }
    for (_, route) in program.routes() {
        match route.produce().map(|p| &p.topic) {
            Some(ast::TopicRef::Fixed(name)) => uses.push(TopicUse {
                name,
                role: TopicRole::ProducedByRoute,
            }),
            Some(ast::TopicRef::Param {
                allow: Some(list), ..
            }) => {
                uses.extend(list.iter().map(|name| TopicUse {
                    name,
                    role: TopicRole::ProducedByRoute,
                }));
            }
            _ => {}
        }
        if let Some(serve) = route.serve() {
            uses.push(TopicUse {
                name: &serve.topic,
                role: TopicRole::Served,
            });
        }
    }
    for stream in &program.streams {
        for statement in &stream.statements {
            let (name, role) = match statement {
                ast::StreamStatement::From { topic, .. } => (topic, TopicRole::Consumed),
                ast::StreamStatement::To { topic, .. } => (topic, TopicRole::ProducedByStream),
                ast::StreamStatement::DeadLetter(topic) => (topic, TopicRole::DeadLetter),
                _ => continue,
            };
            uses.push(TopicUse { name, role });
        }
    }
    uses
}
