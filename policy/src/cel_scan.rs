//! Finds where an inline CEL expression ends inside a `.mesh` line, without parsing CEL, and
//! bounds it: [`MAX_DEPTH`] brackets deep, [`MAX_TOKENS`] tokens long.
//!
//! Outside brackets, an expression ends at a newline, `#`, `,` or an unbalanced closing bracket,
//! or where a word follows a complete operand:
//! `key request.headers["x-ship"] acks all` ends before `acks`. The text found is then handed
//! to the CEL crate's parser.
//!
//! The CEL parser recurses once per level of nesting, so an expression nested a hundred thousand
//! deep overflows the stack of the thread that parses it. meshc refuses such an expression where
//! it reads it; meshd refuses a bundle holding one ([`check_bounds`]), since a bundle need not
//! come from meshc.

/// Why a scan stopped without an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// A string starting at this byte is not closed.
    UnterminatedString { at: usize },
    /// Brackets nest deeper than the limit; the bracket at this byte is one too many.
    TooDeep { at: usize },
    /// The expression has more tokens than the limit; the token at this byte is one too many.
    TooLong { at: usize },
    /// Nothing that could start an expression.
    Empty,
}

/// The most brackets an expression may nest.
pub const MAX_DEPTH: usize = 64;
/// The most tokens an expression may have (a condition is a line, not a program).
pub const MAX_TOKENS: usize = 2_000;

/// Why a bundle's CEL expression is refused before it is parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CelBoundError {
    /// Brackets nest deeper than [`MAX_DEPTH`].
    #[error("the expression nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// More than [`MAX_TOKENS`] tokens.
    #[error("the expression has more than {MAX_TOKENS} tokens")]
    TooLong,
    /// A string is not closed.
    #[error("a string in the expression is never closed")]
    UnterminatedString,
}

/// Checks that the whole of `source` keeps within the bounds meshc applies where it reads an
/// expression, whatever else it holds (the CEL parser judges the rest).
pub fn check_bounds(source: &str) -> Result<(), CelBoundError> {
    match scan(source, Extent::Whole) {
        Ok(_) | Err(ScanError::Empty) => Ok(()),
        Err(ScanError::TooDeep { .. }) => Err(CelBoundError::TooDeep),
        Err(ScanError::TooLong { .. }) => Err(CelBoundError::TooLong),
        Err(ScanError::UnterminatedString { .. }) => Err(CelBoundError::UnterminatedString),
    }
}

/// Returns the byte length of the CEL expression at the start of `input` (trailing blanks excluded).
pub fn scan_expression(input: &str) -> Result<usize, ScanError> {
    scan(input, Extent::InLine)
}

/// How far a scan goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Extent {
    /// To the end of the expression that starts a `.mesh` line's remainder.
    InLine,
    /// To the end of the text: every token counts, nothing ends the scan early.
    Whole,
}

fn scan(input: &str, extent: Extent) -> Result<usize, ScanError> {
    let in_line = extent == Extent::InLine;
    let bytes = input.as_bytes();
    let mut depth = 0usize;
    let mut after_operand = false;
    let mut end = 0usize;
    let mut tokens = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'\n' if depth == 0 && in_line => break,
            b'\n' => {
                i += 1;
                continue;
            }
            b'#' if in_line => break,
            _ => {}
        }
        tokens += 1;
        if tokens > MAX_TOKENS {
            return Err(ScanError::TooLong { at: i });
        }
        match b {
            b',' if depth == 0 && in_line => break,
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ScanError::TooDeep { at: i });
                }
                after_operand = false;
                i += 1;
            }
            b')' | b']' | b'}' => {
                if depth == 0 && in_line {
                    break;
                }
                depth = depth.saturating_sub(1);
                after_operand = true;
                i += 1;
            }
            b'"' | b'\'' => {
                i = skip_string(bytes, i, false)?;
                after_operand = true;
            }
            b'`' => {
                i = skip_quoted_ident(bytes, i);
                after_operand = true;
            }
            b'0'..=b'9' => {
                i = skip_number(bytes, i);
                after_operand = true;
            }
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) && !after_operand => {
                i = skip_number(bytes, i + 1);
                after_operand = true;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &input[start..i];
                // String prefixes: r"…", b'…', rb"…".
                if matches!(
                    word,
                    "r" | "R" | "b" | "B" | "rb" | "br" | "Rb" | "bR" | "RB" | "BR" | "rB" | "Br"
                ) && matches!(bytes.get(i), Some(b'"') | Some(b'\''))
                {
                    if after_operand && depth == 0 && in_line {
                        break;
                    }
                    i = skip_string(bytes, i, word.contains(['r', 'R']))?;
                    after_operand = true;
                    end = i;
                    continue;
                }
                if word == "in" {
                    after_operand = false;
                } else if after_operand && depth == 0 && in_line {
                    i = start;
                    break;
                } else {
                    after_operand = true;
                }
            }
            _ => {
                // Operators and anything else: let the CEL parser judge them.
                let len = utf8_len(b);
                after_operand = false;
                i += len;
            }
        }
        end = i;
    }
    let _ = i;
    if end == 0 {
        return Err(ScanError::Empty);
    }
    Ok(end)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

fn skip_string(bytes: &[u8], start: usize, raw: bool) -> Result<usize, ScanError> {
    let quote = bytes[start];
    let triple = bytes.get(start + 1) == Some(&quote) && bytes.get(start + 2) == Some(&quote);
    if triple {
        let mut i = start + 3;
        while i + 2 < bytes.len() {
            if bytes[i] == b'\\' && !raw {
                i += 2;
                continue;
            }
            if bytes[i] == quote && bytes[i + 1] == quote && bytes[i + 2] == quote {
                return Ok(i + 3);
            }
            i += 1;
        }
        return Err(ScanError::UnterminatedString { at: start });
    }
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if !raw => i += 2,
            b'\n' => break,
            c if c == quote => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(ScanError::UnterminatedString { at: start })
}

fn skip_quoted_ident(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() && bytes[i] != b'`' && bytes[i] != b'\n' {
        i += 1;
    }
    (i + 1).min(bytes.len())
}

fn skip_number(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() {
        let c = bytes[i];
        let exponent_sign = (c == b'+' || c == b'-')
            && i > start
            && matches!(bytes[i - 1], b'e' | b'E')
            && !bytes[start..i].contains(&b'x');
        if c.is_ascii_alphanumeric()
            || c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
            || exponent_sign
        {
            i += 1;
        } else {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(input: &str) -> &str {
        let len = scan_expression(input).expect("scans");
        &input[..len]
    }

    #[test]
    fn ends_at_a_word_after_a_complete_operand() {
        assert_eq!(
            expr(r#"request.headers["x-ship"] acks all"#),
            r#"request.headers["x-ship"]"#
        );
        assert_eq!(expr("event.key value event.value"), "event.key");
    }

    #[test]
    fn continues_after_binary_operators_and_in() {
        assert_eq!(
            expr("a == \"b\" && c in [1, 2] # note"),
            "a == \"b\" && c in [1, 2]"
        );
    }

    #[test]
    fn a_newline_outside_brackets_always_ends_the_expression() {
        assert_eq!(expr("a &&\n  b"), "a &&");
        assert_eq!(expr("(a &&\n  b) c"), "(a &&\n  b)");
    }

    #[test]
    fn ends_at_newline_and_unbalanced_brace() {
        assert_eq!(
            expr("request.method == \"GET\"\n  forward x"),
            "request.method == \"GET\""
        );
        assert_eq!(expr("true }"), "true");
        assert_eq!(expr("request.headers[\"x\"])"), "request.headers[\"x\"]");
    }

    #[test]
    fn keeps_brackets_over_lines_and_hash_in_strings() {
        assert_eq!(expr("f(\n a,\n b\n) x"), "f(\n a,\n b\n)");
        assert_eq!(expr("a == '#1' # c"), "a == '#1'");
        assert_eq!(expr("x == r\"a\\\" y"), "x == r\"a\\\"");
    }

    #[test]
    fn numbers_with_exponents_and_suffixes() {
        assert_eq!(
            expr("size > 1e+3 && n < 10u next"),
            "size > 1e+3 && n < 10u"
        );
    }

    #[test]
    fn reports_unterminated_strings_and_deep_nesting() {
        assert_eq!(
            scan_expression("a == \"open\nb"),
            Err(ScanError::UnterminatedString { at: 5 })
        );
        let deep = "(".repeat(MAX_DEPTH + 1);
        assert_eq!(
            scan_expression(&deep),
            Err(ScanError::TooDeep { at: MAX_DEPTH })
        );
        assert_eq!(scan_expression("   \n"), Err(ScanError::Empty));
    }

    #[test]
    fn a_bundles_expression_is_one_expression_within_the_bounds() {
        for good in [
            "request.method == \"GET\"",
            "  size(request.path) > 3  ",
            "request.headers[\"x-ship\"] in [\"enterprise\", \"defiant\"]",
            &format!("{}1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH)),
        ] {
            assert_eq!(check_bounds(good), Ok(()), "{good}");
        }
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(check_bounds(&deep), Err(CelBoundError::TooDeep));
        let long = vec!["1"; MAX_TOKENS].join(" + ");
        assert_eq!(check_bounds(&long), Err(CelBoundError::TooLong));
        assert_eq!(
            check_bounds("a == \"open"),
            Err(CelBoundError::UnterminatedString)
        );
        // Past where a .mesh line's expression would end, the bounds still hold.
        for after in [", ", " # ", "\n", ") x ", "] "] {
            let hidden = format!("a{after}{}", "(".repeat(MAX_DEPTH + 1));
            assert_eq!(
                check_bounds(&hidden),
                Err(CelBoundError::TooDeep),
                "{hidden:?}"
            );
        }
        assert_eq!(check_bounds("a &&\n   b"), Ok(()));
    }
}
