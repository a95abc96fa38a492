//! Embedded CEL: find the expression's extent, then parse it with the `cel` crate so errors
//! point at the right column of the `.mesh` file.

use crate::diagnostics::codes;
use crate::syntax::ast::Cel;
use crate::syntax::cel_scan::{scan_expression, ScanError, MAX_DEPTH, MAX_TOKENS};

use super::context::Ctx;
use super::error::{PError, PResult};

/// An inline CEL expression, checked by the CEL parser.
pub fn cel<'a>(cx: &Ctx, input: &'a str, what: &str) -> PResult<'a, Cel> {
    let len = match scan_expression(input) {
        Ok(len) => len,
        Err(ScanError::Empty) => return PError::expected(input, what).fail(),
        Err(ScanError::UnterminatedString { at }) => {
            let rest = &input[at..];
            let line = rest.find('\n').unwrap_or(rest.len());
            return PError::at(
                rest,
                line,
                &codes::UNTERMINATED_STRING,
                "unterminated string in CEL expression",
                "this string is never closed",
            )
            .help("add the closing quote")
            .fail();
        }
        Err(ScanError::TooDeep { at }) => {
            return PError::at(
                &input[at..],
                1,
                &codes::NESTING_TOO_DEEP,
                format!("CEL expression nests deeper than {MAX_DEPTH} levels"),
                "too deep",
            )
            .help("flatten the expression")
            .fail()
        }
        Err(ScanError::TooLong { at }) => {
            return PError::at(
                &input[at..],
                1,
                &codes::NESTING_TOO_DEEP,
                format!("CEL expression has more than {MAX_TOKENS} tokens"),
                "too long",
            )
            .help("split the condition; conditions are meant to be short")
            .fail()
        }
    };
    let source = &input[..len];
    if let Err(error) = cx.check_cel(source) {
        let at = error.offset.min(len);
        return PError::at(
            &input[at..],
            error_width(&input[at..len]),
            &codes::CEL_SYNTAX,
            format!("invalid CEL: {}", error.message),
            "here",
        )
        .help("conditions are CEL expressions over the documented variables; see docs/language.md")
        .fail();
    }
    let rest = &input[len..];
    Ok((
        rest,
        Cel {
            source: source.to_string(),
            span: cx.span(input, rest),
        },
    ))
}

fn error_width(rest: &str) -> usize {
    rest.chars().next().map(char::len_utf8).unwrap_or(0)
}

/// A CEL parse failure at a byte offset of the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CelError {
    pub offset: usize,
    pub message: String,
}

/// Parses `source` with the CEL crate; on failure returns the first error's byte offset.
pub fn parse_cel(source: &str) -> Result<cel::IdedExpr, CelError> {
    match cel::parser::Parser::new().parse(source) {
        Ok(expression) => Ok(expression),
        Err(errors) => {
            let first = errors.errors.first();
            let (line, column) = first.map(|e| e.pos).unwrap_or((1, 0));
            let message = first
                .map(|e| plain_message(&e.msg))
                .unwrap_or_else(|| "unknown error".to_string());
            Err(CelError {
                offset: offset_of(source, line, column),
                message,
            })
        }
    }
}

/// The CEL parser's message without its grammar-token list, which means nothing to a user.
fn plain_message(message: &str) -> String {
    let message = message.trim_start_matches("Syntax error: ");
    let message = match message.find(" expecting {") {
        Some(i) => &message[..i],
        None => message,
    };
    message
        .replace("mismatched input '<EOF>'", "the expression ends too early")
        .replace("'<EOF>'", "the end of the expression")
}

/// Converts the CEL parser's (1-based line, 0-based character column) into a byte offset.
fn offset_of(source: &str, line: isize, column: isize) -> usize {
    let mut offset = 0usize;
    for _ in 1..line.max(1) {
        match source[offset..].find('\n') {
            Some(i) => offset += i + 1,
            None => return source.len(),
        }
    }
    let line_text = &source[offset..];
    let byte = line_text
        .char_indices()
        .nth(column.max(0) as usize)
        .map(|(i, _)| i)
        .unwrap_or(line_text.len());
    (offset + byte).min(source.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_expressions_parse() {
        assert!(parse_cel("request.headers[\"x\"] != \"\" && request.method in [\"GET\"]").is_ok());
    }

    #[test]
    fn a_repeated_invalid_condition_is_reported_at_each_place() {
        // One gateway each: a block reports its first error only.
        let route = |name: &str| {
            format!("gateway {name} {{\n  listen \"127.0.0.1:1\"\n  route r {{\n    match GET \"/\"\n    when request.method ==\n    respond 200\n  }}\n}}\n")
        };
        let text = format!("{}{}", route("a"), route("b"));
        let text = text.as_str();
        let (_, diagnostics) = crate::syntax::parser::parse_file(crate::source::FileId(0), text);
        let starts: Vec<u32> = diagnostics
            .iter()
            .filter(|d| d.code.id == "E0012")
            .map(|d| d.labels[0].span.start)
            .collect();
        assert_eq!(starts.len(), 2, "{diagnostics:?}");
        assert_ne!(starts[0], starts[1]);
    }

    #[test]
    fn errors_point_at_the_offending_column() {
        let error = parse_cel("request.method == ").expect_err("incomplete");
        assert_eq!(error.offset, "request.method == ".len());
        let error = parse_cel("a &&\n b ==").expect_err("incomplete");
        assert_eq!(error.offset, "a &&\n b ==".len());
    }
}
