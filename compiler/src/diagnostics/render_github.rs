//! GitHub Actions workflow commands: `::error file=…,line=…,col=…::message`, which GitHub turns
//! into annotations on the pull request.

use crate::source::SourceMap;

use super::{Diagnostic, Severity};

/// Renders one annotation line per diagnostic.
pub fn render_github(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let level = match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = vec![format!(
            "title={}",
            escape_property(&format!("{} {}", diagnostic.code.id, diagnostic.code.title))
        )];
        if let Some(span) = diagnostic.primary_span() {
            let file = sources.file(span.file);
            let start = file.line_col(span.start);
            let end = file.line_col(span.end);
            properties.insert(0, format!("file={}", escape_property(&file.path)));
            properties.insert(1, format!("line={}", start.line));
            properties.insert(2, format!("col={}", start.column));
            properties.insert(3, format!("endLine={}", end.line));
            properties.insert(4, format!("endColumn={}", end.column));
        }
        let mut message = format!("{}: {}", diagnostic.code.id, diagnostic.message);
        if let Some(help) = &diagnostic.help {
            message = format!("{message}\nhelp: {help}");
        }
        out.push_str(&format!(
            "::{level} {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out
}

/// Escapes a command's message (`%`, CR, LF).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (also `:` and `,`, which delimit properties).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_delimiters_in_properties_and_newlines_in_messages() {
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(escape_data("one\ntwo"), "one%0Atwo");
    }
}
