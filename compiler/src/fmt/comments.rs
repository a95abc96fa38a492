//! Comments waiting to be printed. The printer takes each comment exactly once — before the
//! statement it precedes, after the one it trails, or inside the list or block that holds it —
//! and whatever is left at the end of a block or file is printed there, so none is ever lost.

use crate::syntax::ast::Comment;

/// The comments of one file and which of them have been printed.
pub struct CommentQueue<'a> {
    text: &'a str,
    comments: &'a [Comment],
    taken: Vec<bool>,
    /// Every comment before this index has been taken.
    first_open: usize,
}

/// A comment ready to print.
#[derive(Debug, Clone, Copy)]
pub struct Taken<'a> {
    pub comment: &'a Comment,
}

impl Taken<'_> {
    /// Offset of the comment's first byte.
    pub fn start(&self) -> usize {
        self.comment.span.start as usize
    }

    /// Offset just past the comment.
    pub fn end(&self) -> usize {
        self.comment.span.end as usize
    }

    /// A `# …` comment, which ends its line.
    pub fn is_line(&self) -> bool {
        self.comment.text.starts_with('#')
    }

    /// The comment as printed: line comments lose trailing blanks, block comments keep their
    /// text with `\r\n` turned into `\n`.
    pub fn text(&self) -> String {
        if self.is_line() {
            self.comment.text.trim_end().to_string()
        } else {
            self.comment.text.replace("\r\n", "\n")
        }
    }
}

impl<'a> CommentQueue<'a> {
    /// All of `comments` (in source order), none taken yet.
    pub fn new(text: &'a str, comments: &'a [Comment]) -> Self {
        CommentQueue {
            text,
            comments,
            taken: vec![false; comments.len()],
            first_open: 0,
        }
    }

    fn take(&mut self, i: usize) -> Taken<'a> {
        self.taken[i] = true;
        while self.first_open < self.taken.len() && self.taken[self.first_open] {
            self.first_open += 1;
        }
        Taken {
            comment: &self.comments[i],
        }
    }

    /// Takes every comment that starts before `at`.
    pub fn before(&mut self, at: usize) -> Vec<Taken<'a>> {
        self.range(0, at)
    }

    /// Takes every comment that starts in `from..to`.
    pub fn range(&mut self, from: usize, to: usize) -> Vec<Taken<'a>> {
        let mut out = Vec::new();
        let mut i = self.first_open.max(
            self.comments
                .partition_point(|c| (c.span.start as usize) < from),
        );
        while i < self.comments.len() && (self.comments[i].span.start as usize) < to {
            if !self.taken[i] {
                out.push(self.take(i));
            }
            i += 1;
        }
        out
    }

    /// True when a comment not yet taken starts in `from..to`.
    pub fn any_in(&self, from: usize, to: usize) -> bool {
        let mut i = self.first_open.max(
            self.comments
                .partition_point(|c| (c.span.start as usize) < from),
        );
        while i < self.comments.len() && (self.comments[i].span.start as usize) < to {
            if !self.taken[i] {
                return true;
            }
            i += 1;
        }
        false
    }

    /// Takes the comments that follow offset `end` on the same line, with only blanks (and,
    /// when `commas`, list commas) between: `respond 200 "pong"  # health` or `"a", # main`.
    pub fn trailing(&mut self, end: usize, commas: bool) -> Vec<Taken<'a>> {
        let bytes = self.text.as_bytes();
        let mut at = end;
        let mut out = Vec::new();
        loop {
            while at < bytes.len()
                && (matches!(bytes[at], b' ' | b'\t') || (commas && bytes[at] == b','))
            {
                at += 1;
            }
            let i = self
                .comments
                .partition_point(|c| (c.span.start as usize) < at);
            match self.comments.get(i) {
                Some(c) if c.span.start as usize == at && !self.taken[i] => {
                    let taken = self.take(i);
                    at = taken.end();
                    let line = taken.is_line();
                    out.push(taken);
                    if line {
                        break;
                    }
                }
                _ => break,
            }
        }
        out
    }
}
