//! Per-file parser state: the file, its text, the comments seen and the non-fatal diagnostics.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Span};
use crate::syntax::ast::Comment;

use super::error::PError;

/// Shared by every parser function of one file.
pub struct Ctx<'s> {
    pub file: FileId,
    pub src: &'s str,
    /// Keyed by start offset: backtracking may skip the same comment twice.
    comments: RefCell<BTreeMap<usize, Comment>>,
    /// Problems that do not stop parsing (a duplicate setting, a missing one).
    diagnostics: RefCell<Vec<Diagnostic>>,
    /// The CEL parser's verdict on each expression text seen: conditions repeat across routes,
    /// and the CEL parser costs tens of microseconds per call.
    cel_verdicts: RefCell<HashMap<String, Result<(), super::cel::CelError>>>,
}

impl<'s> Ctx<'s> {
    /// State for parsing `src` as `file`.
    pub fn new(file: FileId, src: &'s str) -> Self {
        Ctx {
            file,
            src,
            comments: RefCell::new(BTreeMap::new()),
            diagnostics: RefCell::new(Vec::new()),
            cel_verdicts: RefCell::new(HashMap::new()),
        }
    }

    /// Byte offset of the remaining input `rest` in the file.
    pub fn offset(&self, rest: &str) -> usize {
        self.src.len() - rest.len()
    }

    /// The span from the start of `before` to the start of `after` (both remaining inputs).
    pub fn span(&self, before: &str, after: &str) -> Span {
        Span::new(self.file, self.offset(before), self.offset(after))
    }

    /// A span of `len` bytes at the start of `rest`.
    pub fn span_len(&self, rest: &str, len: usize) -> Span {
        let start = self.offset(rest);
        Span::new(self.file, start, start + len)
    }

    /// Remembers a comment found at `rest` with byte length `len`.
    pub fn add_comment(&self, rest: &str, len: usize) {
        let start = self.offset(rest);
        self.comments
            .borrow_mut()
            .entry(start)
            .or_insert_with(|| Comment {
                text: rest[..len].to_string(),
                span: Span::new(self.file, start, start + len),
            });
    }

    /// How many diagnostics have been recorded with [`Ctx::report`].
    pub fn reported(&self) -> usize {
        self.diagnostics.borrow().len()
    }

    /// Parses the CEL expression `source`, once per distinct text.
    pub fn check_cel(&self, source: &str) -> Result<(), super::cel::CelError> {
        if let Some(verdict) = self.cel_verdicts.borrow().get(source) {
            return verdict.clone();
        }
        let verdict = super::cel::parse_cel(source).map(|_| ());
        self.cel_verdicts
            .borrow_mut()
            .insert(source.to_string(), verdict.clone());
        verdict
    }

    /// Records a diagnostic that does not stop parsing.
    pub fn report(&self, diagnostic: Diagnostic) {
        self.diagnostics.borrow_mut().push(diagnostic);
    }

    /// Turns a parser error into a diagnostic with its labels.
    pub fn to_diagnostic(&self, error: &PError) -> Diagnostic {
        let mut diagnostic = Diagnostic::error(error.code, error.message.clone()).with_label(
            self.label_span(error.remaining, error.len),
            error.label.clone(),
        );
        if let Some((remaining, len, label)) = error.secondary.as_deref() {
            diagnostic = diagnostic.with_label(self.label_span(*remaining, *len), label.clone());
        }
        let help = error
            .help
            .clone()
            .unwrap_or_else(|| "see the grammar in docs/language.md".to_string());
        diagnostic.with_help(help)
    }

    /// The span of `len` bytes where `remaining` bytes of input were left. A point at the very
    /// end of the file moves back to the end of its last line of text, where it can be shown.
    fn label_span(&self, remaining: usize, len: usize) -> Span {
        let mut start = self.src.len() - remaining.min(self.src.len());
        if start == self.src.len() {
            start = self.src.trim_end().len();
        }
        let end = (start + len).min(self.src.len());
        Span::new(self.file, start, end)
    }

    /// Hands over the comments (in source order) and diagnostics collected.
    pub fn finish(self) -> (Vec<Comment>, Vec<Diagnostic>) {
        (
            self.comments.into_inner().into_values().collect(),
            self.diagnostics.into_inner(),
        )
    }
}
