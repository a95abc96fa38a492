//! The set of loaded source files, with line tables for turning offsets into `line:column`.

use super::span::{FileId, Span};

/// One loaded `.mesh` file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as shown to users (relative to the working directory when possible, `/` separators).
    pub path: String,
    /// The text; invalid UTF-8 was replaced (U+FFFD) so it can still be shown in diagnostics.
    pub text: String,
    /// Byte offsets at which each line starts.
    line_starts: Vec<u32>,
}

/// A 1-based line and column (column counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
}

impl SourceFile {
    /// Builds the line table for `text`.
    pub fn new(path: impl Into<String>, text: String) -> Self {
        let mut line_starts = vec![0u32];
        line_starts.extend(memchr_newlines(text.as_bytes()).map(|i| (i + 1) as u32));
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// The 1-based line and column of byte `offset` (clamped to the text).
    pub fn line_col(&self, offset: u32) -> LineCol {
        let offset = offset.min(self.text.len() as u32);
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = self.line_starts[line_index] as usize;
        let mut end = offset as usize;
        while end > line_start && !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let column = self.text[line_start..end].chars().count() as u32 + 1;
        LineCol {
            line: line_index as u32 + 1,
            column,
        }
    }
}

fn memchr_newlines(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
}

/// Every file of one compilation, addressed by [`FileId`].
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        SourceMap::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, path: impl Into<String>, text: String) -> FileId {
        self.files.push(SourceFile::new(path, text));
        FileId(self.files.len() as u32 - 1)
    }

    /// The file behind `id`.
    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// All files in load order.
    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// The id of the file loaded from `path`, if any.
    pub fn find(&self, path: &str) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.path == path)
            .map(|i| FileId(i as u32))
    }

    /// The text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        let text = &self.file(span.file).text;
        text.get(span.range()).unwrap_or("")
    }

    /// Where a span starts, as `line:column`.
    pub fn line_col(&self, span: Span) -> LineCol {
        self.file(span.file).line_col(span.start)
    }
}
