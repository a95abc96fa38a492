//! Finding punctuation the syntax tree does not record (`{`, `[`, `]`, flag keywords) by
//! walking the source between known offsets, stepping over blanks and comments.
//!
//! The positions found only steer where comments are printed; when a scan does not find what
//! it looks for it falls back to the offset it started from, which can move a comment a little
//! but never loses one.

use crate::syntax::ast::Comment;

/// A file's text and its comments, for scanning.
#[derive(Clone, Copy)]
pub struct SourceText<'a> {
    pub text: &'a str,
    /// In source order, not overlapping.
    pub comments: &'a [Comment],
}

impl<'a> SourceText<'a> {
    /// Wraps `text` and the comments the parser found in it.
    pub fn new(text: &'a str, comments: &'a [Comment]) -> Self {
        SourceText { text, comments }
    }

    fn comment_starting_at(&self, at: usize) -> Option<&'a Comment> {
        let i = self
            .comments
            .partition_point(|c| (c.span.start as usize) < at);
        self.comments.get(i).filter(|c| c.span.start as usize == at)
    }

    fn comment_ending_at(&self, at: usize) -> Option<&'a Comment> {
        let i = self
            .comments
            .partition_point(|c| (c.span.end as usize) < at);
        self.comments.get(i).filter(|c| c.span.end as usize == at)
    }

    /// The first offset at or after `from` that is not a blank, newline or comment.
    pub fn skip_trivia(&self, from: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut at = from.min(bytes.len());
        while at < bytes.len() {
            if bytes[at].is_ascii_whitespace() {
                at += 1;
            } else if let Some(comment) = self.comment_starting_at(at) {
                at = comment.span.end as usize;
            } else {
                break;
            }
        }
        at
    }

    /// The offset of the `{` that opens a block, searched from `from` (after the block's name).
    pub fn open_brace(&self, from: usize) -> usize {
        let at = self.skip_trivia(from);
        if self.text.as_bytes().get(at) == Some(&b'{') {
            at
        } else {
            from
        }
    }

    /// The offset of the `[` before a list's first item, which starts at `first`.
    pub fn open_bracket(&self, first: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut at = first.min(bytes.len());
        while at > 0 {
            if bytes[at - 1].is_ascii_whitespace() {
                at -= 1;
            } else if let Some(comment) = self.comment_ending_at(at) {
                at = comment.span.start as usize;
            } else if bytes[at - 1] == b'[' {
                return at - 1;
            } else {
                break;
            }
        }
        first
    }

    /// The offset of the `]` after a list's last item, which ends at `last`.
    pub fn close_bracket(&self, last: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut at = last.min(bytes.len());
        while at < bytes.len() {
            if bytes[at].is_ascii_whitespace() || bytes[at] == b',' {
                at += 1;
            } else if let Some(comment) = self.comment_starting_at(at) {
                at = comment.span.end as usize;
            } else if bytes[at] == b']' {
                return at;
            } else {
                break;
            }
        }
        last
    }

    /// The range of the first whole-word `word` in `from..to`, outside strings and comments.
    pub fn find_word(&self, from: usize, to: usize, word: &str) -> Option<(usize, usize)> {
        let bytes = self.text.as_bytes();
        let to = to.min(bytes.len());
        let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        let mut at = from;
        while at < to {
            if let Some(comment) = self.comment_starting_at(at) {
                at = comment.span.end as usize;
            } else if bytes[at] == b'"' {
                at += 1;
                while at < to && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            } else if is_word(bytes[at]) {
                let start = at;
                while at < to && is_word(bytes[at]) {
                    at += 1;
                }
                if &self.text[start..at] == word {
                    return Some((start, at));
                }
            } else {
                at += 1;
            }
        }
        None
    }

    /// True when `from..to` holds an empty line (two newlines with only blanks between them).
    pub fn blank_line_between(&self, from: usize, to: usize) -> bool {
        let Some(gap) = self.text.get(from..to.min(self.text.len())) else {
            return false;
        };
        let mut after_newline = false;
        for b in gap.bytes() {
            match b {
                b'\n' if after_newline => return true,
                b'\n' => after_newline = true,
                b' ' | b'\t' | b'\r' => {}
                _ => after_newline = false,
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Span};

    fn comment(text: &str, source: &str) -> Comment {
        let start = source.find(text).expect("comment in source");
        Comment {
            text: text.to_string(),
            span: Span::new(FileId(0), start, start + text.len()),
        }
    }

    #[test]
    fn brackets_are_found_across_comments_and_commas() {
        let source = "endpoints [ # main\n  \"a\", /* b */ \"b\", # last\n]";
        let comments = [
            comment("# main", source),
            comment("/* b */", source),
            comment("# last", source),
        ];
        let scan = SourceText::new(source, &comments);
        let first = source.find("\"a\"").expect("a");
        let last = source.find("\"b\"").expect("b") + 3;
        assert_eq!(scan.open_bracket(first), source.find('[').expect("["));
        assert_eq!(scan.close_bracket(last), source.find(']').expect("]"));
    }

    #[test]
    fn words_inside_strings_and_comments_are_not_found() {
        let source = "cors { origins [\"credentials\"] /* credentials */ credentials }";
        let comments = [comment("/* credentials */", source)];
        let scan = SourceText::new(source, &comments);
        let (start, end) = scan
            .find_word(0, source.len(), "credentials")
            .expect("found");
        assert_eq!(&source[start..end], "credentials");
        assert_eq!(start, source.rfind("credentials").expect("last"));
    }

    #[test]
    fn blank_lines_are_lines_with_only_blanks() {
        let scan = SourceText::new("a\n  \n b\nc", &[]);
        assert!(scan.blank_line_between(0, 6));
        assert!(!scan.blank_line_between(5, 9));
    }
}
