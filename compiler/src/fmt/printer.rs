//! Lays [`Entry`]s out as text: indentation, line breaks, blank lines and comments.
//!
//! Layout decisions depend only on the tree and its comments, never on the original line
//! breaks (except blank lines between statements, which are kept, at most one), so printing
//! the output again gives the same text.

use super::comments::{CommentQueue, Taken};
use super::layout::{Block, Body, Entry, Fold, Line, List, Part};
use super::source_scan::SourceText;

/// Lines longer than this break their lists and unfold their blocks.
pub const WIDTH: usize = 100;

const INDENT: &str = "  ";

/// Prints one file's entries with every comment of the file.
pub fn print_file(source: SourceText<'_>, entries: &[Entry]) -> String {
    let mut printer = Printer {
        source,
        comments: CommentQueue::new(source.text, source.comments),
    };
    let mut lines = Vec::new();
    printer.children(entries, 0, 0, usize::MAX, true, &mut lines);
    if lines.is_empty() {
        return String::new();
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

struct Printer<'a> {
    source: SourceText<'a>,
    comments: CommentQueue<'a>,
}

fn indent(depth: usize) -> String {
    INDENT.repeat(depth)
}

fn width(text: &str) -> usize {
    if text.contains('\n') {
        usize::MAX
    } else {
        text.chars().count()
    }
}

fn append_comments(line: &mut String, comments: &[Taken<'_>]) {
    for comment in comments {
        line.push(' ');
        line.push_str(&comment.text());
    }
}

impl Printer<'_> {
    /// Prints `entries` at `depth`, then the comments left before `close`. At the top level a
    /// blank line separates declarations that take more than one line. Returns the offset of
    /// the last thing printed.
    fn children(
        &mut self,
        entries: &[Entry],
        depth: usize,
        mut last_end: usize,
        close: usize,
        top: bool,
        out: &mut Vec<String>,
    ) -> usize {
        let mut started = false;
        let mut previous_tall = false;
        for (i, entry) in entries.iter().enumerate() {
            let leading = self.comments.before(entry.start);
            let mut lines = Vec::new();
            let end = self.entry(entry, depth, &mut lines);
            let tall = lines.len() > 1 || lines.iter().any(|l| l.contains('\n'));
            let mut forced = top && i > 0 && (previous_tall || tall);
            for comment in leading {
                if started && (forced || self.source.blank_line_between(last_end, comment.start()))
                {
                    out.push(String::new());
                }
                forced = false;
                out.push(format!("{}{}", indent(depth), comment.text()));
                started = true;
                last_end = comment.end();
            }
            if started && (forced || self.source.blank_line_between(last_end, entry.start)) {
                out.push(String::new());
            }
            out.extend(lines);
            started = true;
            last_end = end;
            previous_tall = tall;
        }
        for comment in self.comments.before(close) {
            if started && self.source.blank_line_between(last_end, comment.start()) {
                out.push(String::new());
            }
            out.push(format!("{}{}", indent(depth), comment.text()));
            started = true;
            last_end = comment.end();
        }
        last_end
    }

    /// Prints one entry; returns the offset past it and its trailing comments.
    fn entry(&mut self, entry: &Entry, depth: usize, out: &mut Vec<String>) -> usize {
        match &entry.body {
            Body::Line(line) => self.line(line, entry, depth, out),
            Body::Block(block) => self.block(block, entry, depth, out),
        }
    }

    fn line(&mut self, line: &Line, entry: &Entry, depth: usize, out: &mut Vec<String>) -> usize {
        let flat = format!("{}{}", indent(depth), line.flat());
        // A list breaks when it holds a comment, or when it ends a line that is too long
        // (a list in the middle of a long line stays whole: `] key …` would read worse).
        let too_wide = width(&flat) > WIDTH;
        let last = line.parts.len().saturating_sub(1);
        let broken: Vec<bool> = line
            .parts
            .iter()
            .enumerate()
            .map(|(i, part)| match part {
                Part::List(list) => {
                    self.comments.any_in(list.open, list.close) || (too_wide && i == last)
                }
                Part::Text(_) => false,
            })
            .collect();
        let mut lines = if broken.contains(&true) {
            self.broken_line(line, &broken, depth)
        } else {
            vec![flat]
        };
        // Comments between the statement's own tokens: `#` comments go on their own lines
        // above it (they end a line), `/* */` comments after it unless CEL ends the line.
        let inside = self.comments.range(entry.start, entry.end);
        let (above, after): (Vec<_>, Vec<_>) = inside
            .into_iter()
            .partition(|c| c.is_line() || line.ends_with_cel);
        out.extend(
            above
                .iter()
                .map(|c| format!("{}{}", indent(depth), c.text())),
        );
        let trailing = self.comments.trailing(entry.end, false);
        let end = trailing.last().map(Taken::end).unwrap_or(entry.end);
        if let Some(last) = lines.last_mut() {
            append_comments(last, &after);
            append_comments(last, &trailing);
        }
        out.append(&mut lines);
        end
    }

    /// The line with the lists marked in `broken` printed one item per line, each item with
    /// its comments.
    fn broken_line(&mut self, line: &Line, broken: &[bool], depth: usize) -> Vec<String> {
        let mut lines = Vec::new();
        let mut current = indent(depth);
        for (i, part) in line.parts.iter().enumerate() {
            if i > 0 {
                current.push(' ');
            }
            match part {
                Part::Text(text) => current.push_str(text),
                Part::List(list) if broken[i] => {
                    current.push('[');
                    lines.push(current);
                    self.broken_list(list, depth + 1, &mut lines);
                    current = format!("{}]", indent(depth));
                }
                Part::List(list) => list.flat_into(&mut current),
            }
        }
        lines.push(current);
        lines
    }

    fn broken_list(&mut self, list: &List, depth: usize, out: &mut Vec<String>) {
        for item in &list.items {
            for comment in self.comments.range(list.open, item.start) {
                out.push(format!("{}{}", indent(depth), comment.text()));
            }
            let mut line = format!("{}{},", indent(depth), item.text);
            let trailing = self.comments.trailing(item.end, true);
            append_comments(&mut line, &trailing);
            out.push(line);
        }
        for comment in self.comments.range(list.open, list.close) {
            out.push(format!("{}{}", indent(depth), comment.text()));
        }
    }

    fn block(
        &mut self,
        block: &Block,
        entry: &Entry,
        depth: usize,
        out: &mut Vec<String>,
    ) -> usize {
        let pad = indent(depth);
        // Comments between the head's words and `{`: `#` comments go above the block, `/* */`
        // comments after its `{` (where the next run finds them inside the block).
        let head_comments = self.comments.range(entry.start, block.open);
        out.extend(
            head_comments
                .iter()
                .filter(|c| c.is_line())
                .map(|c| format!("{pad}{}", c.text())),
        );
        let mut after_open: Vec<_> = head_comments.into_iter().filter(|c| !c.is_line()).collect();
        if after_open.is_empty() {
            if let Some(mut line) = self.folded(block, depth) {
                let trailing = self.comments.trailing(entry.end, false);
                append_comments(&mut line, &trailing);
                out.push(line);
                return trailing.last().map(Taken::end).unwrap_or(entry.end);
            }
        }
        let mut head = format!("{pad}{} {{", block.head);
        let same_line = self.comments.trailing(block.open + 1, false);
        let last_end = same_line.last().map(Taken::end).unwrap_or(block.open + 1);
        after_open.extend(same_line);
        append_comments(&mut head, &after_open);
        out.push(head);
        self.children(
            &block.children,
            depth + 1,
            last_end,
            block.close,
            false,
            out,
        );
        let mut close = format!("{pad}}}");
        let trailing = self.comments.trailing(entry.end, false);
        append_comments(&mut close, &trailing);
        out.push(close);
        trailing.last().map(Taken::end).unwrap_or(entry.end)
    }

    /// The block on one line, when it may be and nothing stops it.
    fn folded(&self, block: &Block, depth: usize) -> Option<String> {
        if self.comments.any_in(block.open, block.close) {
            return None;
        }
        if block.children.is_empty() {
            return Some(format!("{}{} {{}}", indent(depth), block.head));
        }
        let Fold::UpTo(max) = block.fold else {
            return None;
        };
        if block.children.len() > max {
            return None;
        }
        let children = block
            .children
            .iter()
            .map(|child| match &child.body {
                Body::Line(line) if line.foldable => Some(line.flat()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        let text = format!(
            "{}{} {{ {} }}",
            indent(depth),
            block.head,
            children.join("  ")
        );
        (width(&text) <= WIDTH).then_some(text)
    }
}
