//! The parser's error: where it stopped (as remaining input length, so nom can build it without
//! knowing the file), what it expected, and the diagnostic code to report.

use nom::error::{ErrorKind, ParseError};

use crate::diagnostics::codes::{self, Code};

/// A syntax error inside the nom parsers. Converted to a [`crate::diagnostics::Diagnostic`] at
/// the top of the parser, where the file is known.
#[derive(Debug, Clone, PartialEq)]
pub struct PError {
    /// Bytes of input left at the error; the offset is `file_len - remaining`.
    pub remaining: usize,
    /// Width of the offending text in bytes (at least 1 unless at end of input).
    pub len: usize,
    pub code: &'static Code,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
    /// A second location (for example the unclosed `{`), as (remaining, len, label); boxed
    /// because it is rare and keeps every parser's `Result` small.
    pub secondary: Option<Box<(usize, usize, String)>>,
    /// After this error the rest of the file cannot be read (an unclosed comment or block).
    pub fatal: bool,
}

/// Result of every parser function.
pub type PResult<'a, T> = nom::IResult<&'a str, T, PError>;

impl PError {
    /// "expected WHAT, found …" at the start of `input`.
    pub fn expected(input: &str, what: &str) -> Self {
        let found = describe_token(input);
        PError {
            remaining: input.len(),
            len: token_len(input),
            code: &codes::SYNTAX,
            message: format!("expected {what}, found {found}"),
            label: format!("expected {what}"),
            help: None,
            secondary: None,
            fatal: false,
        }
    }

    /// An error of `code` covering `len` bytes at the start of `input`.
    pub fn at(
        input: &str,
        len: usize,
        code: &'static Code,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        PError {
            remaining: input.len(),
            len,
            code,
            message: message.into(),
            label: label.into(),
            help: None,
            secondary: None,
            fatal: false,
        }
    }

    /// Adds a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a second labelled location.
    pub fn secondary(mut self, input: &str, len: usize, label: impl Into<String>) -> Self {
        self.secondary = Some(Box::new((input.len(), len, label.into())));
        self
    }

    /// Marks the error as one after which nothing more of the file can be parsed.
    pub fn fatal(mut self) -> Self {
        self.fatal = true;
        self
    }

    /// Wraps the error as a nom failure (no backtracking past it).
    pub fn fail<T>(self) -> Result<T, nom::Err<PError>> {
        Err(nom::Err::Failure(self))
    }
}

impl ParseError<&str> for PError {
    fn from_error_kind(input: &str, kind: ErrorKind) -> Self {
        PError::expected(input, kind.description())
    }

    fn append(_input: &str, _kind: ErrorKind, other: Self) -> Self {
        other
    }

    fn or(self, other: Self) -> Self {
        // Keep the alternative that got further; it says the most about what went wrong.
        if other.remaining < self.remaining {
            other
        } else {
            self
        }
    }
}

/// A short description of the token at the start of `input`, for "found …".
pub fn describe_token(input: &str) -> String {
    match input.chars().next() {
        None => "end of file".to_string(),
        Some('\n') | Some('\r') => "end of line".to_string(),
        Some(_) => {
            let len = token_len(input);
            let token: String = input[..len].chars().take(40).collect();
            format!("`{token}`")
        }
    }
}

/// The byte length of the token at the start of `input`: a word, a number with its unit, a
/// string on its line, a run of operator characters (`=>`), or one character.
pub fn token_len(input: &str) -> usize {
    const OPERATORS: &str = "=<>!&|-+*/%.:";
    let Some(first) = input.chars().next() else {
        return 0;
    };
    let run = |keep: &dyn Fn(char) -> bool| {
        input
            .char_indices()
            .find(|(_, c)| !keep(*c))
            .map(|(i, _)| i)
            .unwrap_or(input.len())
    };
    if first.is_alphanumeric() || first == '_' {
        return run(&|c| c.is_alphanumeric() || c == '_' || c == '-');
    }
    if first == '"' {
        let line = input.find('\n').unwrap_or(input.len());
        return input[1..line].find('"').map(|i| i + 2).unwrap_or(line);
    }
    if OPERATORS.contains(first) {
        return run(&|c| OPERATORS.contains(c));
    }
    first.len_utf8()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_words_strings_operator_runs_or_one_character() {
        assert_eq!(token_len("picard {"), 6);
        assert_eq!(token_len("5/min"), 1);
        assert_eq!(token_len("\"x-api\" rest"), 7);
        assert_eq!(token_len("\"unclosed\nnext"), 9);
        assert_eq!(token_len("=> picard"), 2);
        assert_eq!(token_len("{ x"), 1);
        assert_eq!(token_len("é"), 2);
        assert_eq!(token_len(""), 0);
    }
}
