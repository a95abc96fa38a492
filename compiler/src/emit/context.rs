//! What every lowering function shares: the sources (for locations) and the diagnostics found.

use meshwork_bundle::{SecretRef, SourceLocation};

use crate::diagnostics::{codes, Diagnostic};
use crate::source::{SourceMap, Span};
use crate::syntax::ast::{Secret, SecretSource};

/// The state of one emit run.
pub struct EmitContext<'a> {
    sources: &'a SourceMap,
    /// Problems found while lowering (the bundle is not used when any is an error).
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> EmitContext<'a> {
    /// A context over `sources` with no diagnostics yet.
    pub fn new(sources: &'a SourceMap) -> Self {
        EmitContext {
            sources,
            diagnostics: Vec::new(),
        }
    }

    /// The sources being lowered.
    pub fn sources(&self) -> &'a SourceMap {
        self.sources
    }

    /// The bundle location (path, 1-based line and column) where `span` starts.
    pub fn location(&self, span: Span) -> SourceLocation {
        let line_col = self.sources.line_col(span);
        SourceLocation {
            file: self.sources.file(span.file).path.clone(),
            line: line_col.line,
            column: line_col.column,
        }
    }

    /// Turns a secret into a reference; an inline secret is reported and replaced by an empty
    /// `env` reference so its value can never reach the bundle.
    pub fn secret(&mut self, secret: &Secret) -> SecretRef {
        match &secret.node {
            SecretSource::Env(name) => SecretRef::Env(name.clone()),
            SecretSource::File(path) => SecretRef::File(path.clone()),
            SecretSource::Inline(_) => {
                self.diagnostics.push(
                    Diagnostic::error(&codes::INLINE_SECRET, "secrets cannot be written inline")
                        .with_label(secret.span, "this value would be copied into the bundle")
                        .with_help("use env(\"NAME\") or file(\"path\")"),
                );
                SecretRef::Env(String::new())
            }
        }
    }

    /// Reports a missing required setting of the block named at `span`.
    pub fn missing(&mut self, span: Span, what: &str, help: &str) {
        self.diagnostics.push(
            Diagnostic::error(&codes::MISSING_SETTING, format!("missing {what}"))
                .with_label(span, format!("this needs {what}"))
                .with_help(help.to_string()),
        );
    }
}
