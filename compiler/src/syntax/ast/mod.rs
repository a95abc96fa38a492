//! The syntax tree of a `.mesh` file. Every node carries the [`Span`] it was parsed from, so
//! later stages can point at the exact text they complain about.
//!
//! The tree is close to the source (the formatter prints it back); meaning is given later, in
//! `resolve/` and `emit/`. This file holds the file-level nodes and the literals every block
//! shares; each kind of block has its own file, all re-exported here.

use crate::source::{Span, Spanned};

mod gateway;
mod mesh;
mod route;
mod service;
mod stream;

pub use gateway::*;
pub use mesh::*;
pub use route::*;
pub use service::*;
pub use stream::*;

/// A name: a gateway, route, consumer, group, service or stream identifier.
pub type Ident = Spanned<String>;

/// One parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
    /// Every comment of the file in source order, kept for the formatter.
    pub comments: Vec<Comment>,
}

/// A `# …` line comment or a `/* … */` block comment, with its text including the markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Include(Include),
    Gateway(Gateway),
    Service(Service),
    Mesh(Mesh),
    Stream(Stream),
    Topic(Topic),
}

impl Item {
    /// The span of the whole item.
    pub fn span(&self) -> Span {
        match self {
            Item::Include(i) => i.span,
            Item::Gateway(g) => g.span,
            Item::Service(s) => s.span,
            Item::Mesh(m) => m.span,
            Item::Stream(s) => s.span,
            Item::Topic(t) => t.span,
        }
    }
}

/// `include "other.mesh"`: compile another file as part of this program.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    pub path: Spanned<String>,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// Literals
// ---------------------------------------------------------------------------------------------

/// A duration in milliseconds (`250ms`, `2s`, `5m`, `1h`, `1d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    pub millis: u64,
}

/// A rate: `count` events per `period_ms` (`100/min`, `5/s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u64,
    pub period: RatePeriod,
}

/// The period of a [`Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatePeriod {
    Second,
    Minute,
    Hour,
    Day,
}

impl RatePeriod {
    /// The period in milliseconds.
    pub fn millis(self) -> u64 {
        match self {
            RatePeriod::Second => 1_000,
            RatePeriod::Minute => 60_000,
            RatePeriod::Hour => 3_600_000,
            RatePeriod::Day => 86_400_000,
        }
    }

    /// The unit as written (`s`, `min`, `h`, `d`).
    pub fn unit(self) -> &'static str {
        match self {
            RatePeriod::Second => "s",
            RatePeriod::Minute => "min",
            RatePeriod::Hour => "h",
            RatePeriod::Day => "d",
        }
    }
}

/// A size in bytes (`1MiB`, `512KB`, `100B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub bytes: u64,
}

/// A percentage, 0–100 (`50%`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percent {
    pub value: u8,
}

/// Where a secret comes from. Inline literals are parsed so the checker can refuse them with a
/// pointed diagnostic rather than a syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `env("NAME")`: an environment variable read by the runtime at load.
    Env(String),
    /// `file("path")`: a file read by the runtime at load.
    File(String),
    /// `"literal"`: an inline secret, an error (secrets never enter the bundle).
    Inline(String),
}

/// A secret reference with its span.
pub type Secret = Spanned<SecretSource>;

/// An embedded CEL expression: its source text exactly as written and the span of that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cel {
    pub source: String,
    pub span: Span,
}
