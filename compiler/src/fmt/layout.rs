//! The formatter's intermediate form: what to print for each statement, with the source offsets
//! the printer needs to put comments back where they were.
//!
//! The per-item builders (`gateway.rs`, `route.rs`, …) turn the syntax tree into [`Entry`]s; the
//! printer (`printer.rs`) alone decides line breaks, indentation and comment placement.

/// One statement or declaration: a line of its own, or a block with children.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Byte offset where the statement starts in the source.
    pub start: usize,
    /// Byte offset just past the statement's last token (past `}` for a block).
    pub end: usize,
    pub body: Body,
}

/// What an entry prints.
#[derive(Debug, Clone)]
pub enum Body {
    Line(Line),
    Block(Block),
}

/// A statement printed on one line: its parts joined by single spaces. Lists may be broken
/// over several lines (one item per line) when they hold comments or the line is too long.
#[derive(Debug, Clone, Default)]
pub struct Line {
    pub parts: Vec<Part>,
    /// False when the statement may not share a line with its siblings in a folded block
    /// (it carries a CEL expression, whose end the parser finds by looking at what follows).
    pub foldable: bool,
    /// True when the last part is a CEL expression: nothing but a `#` comment may follow it on
    /// the line, since the parser would read a `/* */` comment as more CEL.
    pub ends_with_cel: bool,
}

/// A piece of a line.
#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    List(List),
}

/// A `[…]` list with at least one item, and where its brackets are in the source.
#[derive(Debug, Clone)]
pub struct List {
    pub items: Vec<ListItem>,
    /// Offset of `[`.
    pub open: usize,
    /// Offset of `]`.
    pub close: usize,
}

/// One item of a [`List`], already printed, with its source range.
#[derive(Debug, Clone)]
pub struct ListItem {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// `head { children }`.
#[derive(Debug, Clone)]
pub struct Block {
    /// Everything before ` {`, e.g. `route officers`.
    pub head: String,
    /// Offset of `{` in the source.
    pub open: usize,
    /// Offset of `}` in the source.
    pub close: usize,
    pub children: Vec<Entry>,
    pub fold: Fold,
}

/// Whether a block may be printed on one line (`consumer picard { key env("K")  groups [a] }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// Always one child per line.
    Never,
    /// On one line when it has at most this many children, none with a CEL expression or a
    /// nested block, no comment inside, and the line fits the width.
    UpTo(usize),
}

impl Line {
    /// A line with no parts yet; foldable until a CEL expression is added.
    pub fn new() -> Self {
        Line {
            parts: Vec::new(),
            foldable: true,
            ends_with_cel: false,
        }
    }

    /// Appends a text part.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.parts.push(Part::Text(text.into()));
        self.ends_with_cel = false;
        self
    }

    /// Appends a text part when `text` is `Some`.
    pub fn maybe(self, text: Option<String>) -> Self {
        match text {
            Some(text) => self.text(text),
            None => self,
        }
    }

    /// Appends a CEL expression (printed as written); the line can then no longer be folded.
    pub fn cel(mut self, source: &str) -> Self {
        self.parts.push(Part::Text(source.to_string()));
        self.foldable = false;
        self.ends_with_cel = true;
        self
    }

    /// Appends a list part.
    pub fn part(mut self, part: Part) -> Self {
        self.parts.push(part);
        self.ends_with_cel = false;
        self
    }

    /// The line printed flat, lists inline.
    pub fn flat(&self) -> String {
        let mut out = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            match part {
                Part::Text(text) => out.push_str(text),
                Part::List(list) => list.flat_into(&mut out),
            }
        }
        out
    }

    /// Wraps the line as an entry covering `start..end`.
    pub fn at(self, start: usize, end: usize) -> Entry {
        Entry {
            start,
            end,
            body: Body::Line(self),
        }
    }
}

impl List {
    /// Appends the list on one line: `[a, b]`.
    pub fn flat_into(&self, out: &mut String) {
        out.push('[');
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&item.text);
        }
        out.push(']');
    }
}

impl Block {
    /// Wraps the block as an entry starting at `start` and ending past its `}`.
    pub fn at(self, start: usize) -> Entry {
        let end = self.close + 1;
        Entry {
            start,
            end,
            body: Body::Block(self),
        }
    }
}
