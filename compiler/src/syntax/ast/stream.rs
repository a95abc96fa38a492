//! `stream` rules over Kafka records and `topic` declarations.

use super::*;

/// `stream NAME { from … when … to … deliver … dead_letter … }`: a rule over Kafka records.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub name: Ident,
    pub statements: Vec<StreamStatement>,
    pub span: Span,
}

/// One line of a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamStatement {
    /// `from topic "T" group "G"`.
    From {
        topic: Spanned<String>,
        group: Option<Spanned<String>>,
        span: Span,
    },
    When(Cel),
    /// `to topic "T" [key CEL] [value CEL]`.
    To {
        topic: Spanned<String>,
        key: Option<Cel>,
        value: Option<Cel>,
        /// `exactly_once`: republish in Kafka transactions with the source offsets.
        exactly_once: bool,
        span: Span,
    },
    /// `deliver SERVICE [path "P"] [concurrency N] [retry N [backoff MIN..MAX]]`.
    Deliver(Deliver),
    /// `dead_letter "T"`.
    DeadLetter(Spanned<String>),
}

impl StreamStatement {
    /// The span of the statement.
    pub fn span(&self) -> Span {
        match self {
            StreamStatement::From { span, .. } => *span,
            StreamStatement::When(c) => c.span,
            StreamStatement::To { span, .. } => *span,
            StreamStatement::Deliver(d) => d.span,
            StreamStatement::DeadLetter(t) => t.span,
        }
    }
}

/// Kafka → HTTP delivery settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Deliver {
    pub service: Ident,
    pub path: Option<Spanned<String>>,
    pub concurrency: Option<Spanned<u64>>,
    pub retry: Option<Spanned<u64>>,
    pub backoff: Option<Backoff>,
    pub span: Span,
}

/// `topic "NAME" [external] [{ partitions N  external  schema "FILE" }]`: declares a Kafka topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub name: Spanned<String>,
    /// Produced by something outside this program, so nothing here needs to produce it.
    pub external: bool,
    pub partitions: Option<Spanned<u64>>,
    /// `schema "FILE"`: a JSON Schema file, relative to the declaring `.mesh` file, that every
    /// record value must satisfy.
    pub schema: Option<Spanned<String>>,
    pub span: Span,
}
