//! The diagnostic every stage reports: a stable code, a message, labelled spans and a help line.

use crate::source::Span;

use super::codes::Code;

/// How bad a diagnostic is. Errors fail `check` and `build`; warnings do not (unless denied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    /// `"error"` or `"warning"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A span with the text shown beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One finding about the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static Code,
    pub severity: Severity,
    pub message: String,
    /// The first label is the primary location (the one shown as `file:line:col`).
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with `code`'s default severity replaced by [`Severity::Error`].
    pub fn error(code: &'static Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    /// A warning.
    pub fn warning(code: &'static Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Adds a labelled span (the first one added is the primary location).
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The primary span, if the diagnostic has one.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by file, position and code so output does not depend on discovery order.
pub fn sort_diagnostics(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let ka = a.primary_span().map(|s| (s.file, s.start, s.end));
        let kb = b.primary_span().map(|s| (s.file, s.start, s.end));
        ka.cmp(&kb)
            .then_with(|| a.code.id.cmp(b.code.id))
            .then_with(|| a.message.cmp(&b.message))
    });
}
