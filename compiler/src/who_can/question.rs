//! The questions `meshc who-can` answers.

use std::fmt;

/// One question about a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// Who can send requests that end at this service.
    ReachService(String),
    /// Who can send requests through this route (`gateway/route`, or a route name when only one
    /// gateway has it).
    ReachRoute(String),
    /// Who can write records to this topic.
    Produce(String),
    /// Who reads records of this topic, and where they go.
    Consume(String),
}

impl fmt::Display for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Question::ReachService(name) => write!(f, "reach service {name}"),
            Question::ReachRoute(name) => write!(f, "reach route {name}"),
            Question::Produce(topic) => write!(f, "produce {topic}"),
            Question::Consume(topic) => write!(f, "consume {topic}"),
        }
    }
}
