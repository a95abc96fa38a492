//! Human diagnostics through miette: code, `file:line:col`, the source line with labels, help.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use crate::source::SourceMap;

use super::{Diagnostic, Severity};

/// Lines longer than this are not quoted (a 50 MB one-line file must not be printed back).
const MAX_QUOTED_LINE: usize = 400;
/// Fixed width, so output does not depend on the terminal in golden tests.
const WIDTH: usize = 100;

/// Renders diagnostics as text; `color` only when writing to a terminal.
pub fn render_report(sources: &SourceMap, diagnostics: &[Diagnostic], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(WIDTH)
        .with_links(false);
    let mut out = String::new();
    let texts: Vec<Arc<str>> = sources
        .files()
        .map(|(_, f)| Arc::from(f.text.as_str()))
        .collect();
    for diagnostic in diagnostics {
        let report = Report::new(sources, &texts, diagnostic);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&report.to_string());
        }
        out.push('\n');
    }
    out
}

/// Renders a one-line summary: "N errors, M warnings".
pub fn render_summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

/// One diagnostic in miette's terms.
#[derive(Debug)]
struct Report {
    code: &'static str,
    severity: Severity,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn new(sources: &SourceMap, texts: &[Arc<str>], diagnostic: &Diagnostic) -> Report {
        let primary = diagnostic.primary_span();
        let mut report = Report {
            code: diagnostic.code.id,
            severity: diagnostic.severity,
            message: diagnostic.message.clone(),
            help: diagnostic.help.clone(),
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        };
        let Some(primary) = primary else {
            return report;
        };
        let file = sources.file(primary.file);
        if longest_line_around(&file.text, char_aligned(&file.text, primary.range()))
            > MAX_QUOTED_LINE
        {
            let at = sources.line_col(primary);
            report.message = format!(
                "{}\n  at {}:{}:{}",
                report.message, file.path, at.line, at.column
            );
            return report;
        }
        report.source = Some(
            NamedSource::new(file.path.clone(), texts[primary.file.0 as usize].clone())
                .with_language("mesh"),
        );
        for label in &diagnostic.labels {
            if label.span.file == primary.file {
                let range = char_aligned(&file.text, label.span.range());
                let span = SourceSpan::new(range.start.into(), range.len());
                report.labels.push(LabeledSpan::new_with_span(
                    Some(label.message.clone()),
                    span,
                ));
            } else {
                let other = Diagnostic {
                    code: diagnostic.code,
                    severity: diagnostic.severity,
                    message: label.message.clone(),
                    labels: vec![label.clone()],
                    help: None,
                };
                report.related.push(Report::new(sources, texts, &other));
            }
        }
        report
    }
}

/// `range` widened to whole characters of `text` and clamped to it. Spans are byte offsets and
/// may point inside a character of the text as shown (an invalid byte shown as U+FFFD, or a
/// label computed on different text); slicing or quoting there must not panic.
fn char_aligned(text: &str, range: Range<usize>) -> Range<usize> {
    let mut start = range.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = range.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// The length of the longest line `range` touches; `range` lies on character boundaries.
fn longest_line_around(text: &str, range: Range<usize>) -> usize {
    let start = text[..range.start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let end = text[range.end..]
        .find('\n')
        .map(|i| range.end + i)
        .unwrap_or(text.len());
    text[start..end]
        .split('\n')
        .map(str::len)
        .max()
        .unwrap_or(0)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}
