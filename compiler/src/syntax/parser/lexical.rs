//! Tokens: whitespace and comments, words and identifiers, strings, integers, punctuation.

use nom::bytes::complete::{take_while, take_while1};
use nom::Parser;

use crate::diagnostics::codes;
use crate::source::Spanned;
use crate::syntax::ast::Ident;

use super::context::Ctx;
use super::error::{PError, PResult};

/// The longest identifier accepted, in bytes.
pub const MAX_IDENT_LEN: usize = 255;

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r'
}

/// Skips whitespace, newlines and comments (recording the comments).
pub fn ws<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, ()> {
    skip_space(cx, input, true)
}

/// Skips blanks and block comments on the current line only: options of a statement must
/// follow it on the same line. A `#` comment ends the line and is left for [`ws`].
pub fn ws_inline<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, ()> {
    skip_space(cx, input, false)
}

fn skip_space<'a>(cx: &Ctx, mut input: &'a str, newlines: bool) -> PResult<'a, ()> {
    loop {
        let (rest, _) = take_while(|c| is_blank(c) || (newlines && c == '\n')).parse(input)?;
        input = rest;
        if newlines && input.starts_with('#') {
            let len = input.find('\n').unwrap_or(input.len());
            cx.add_comment(input, len);
            input = &input[len..];
        } else if input.starts_with("/*") {
            match input[2..].find("*/") {
                Some(end) if newlines || !input[..end + 4].contains('\n') => {
                    cx.add_comment(input, end + 4);
                    input = &input[end + 4..];
                }
                Some(_) => return Ok((input, ())),
                None => {
                    return PError::at(
                        input,
                        2,
                        &codes::UNTERMINATED_COMMENT,
                        "unterminated block comment",
                        "this comment is never closed",
                    )
                    .help("close the comment with `*/`, or use `#` for a line comment")
                    .fatal()
                    .fail()
                }
            }
        } else {
            return Ok((input, ()));
        }
    }
}

fn ident_len(input: &str) -> usize {
    let bytes = input.as_bytes();
    if bytes.is_empty() || !(bytes[0].is_ascii_alphabetic() || bytes[0] == b'_') {
        return 0;
    }
    let mut i = 1;
    while i < bytes.len() {
        let b = bytes[i];
        let word_char = b.is_ascii_alphanumeric() || b == b'_';
        // A `-` joins two word characters (`captains-log`) but never ends a name.
        let joining_dash = b == b'-'
            && bytes
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == b'_');
        if word_char || joining_dash {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// A keyword or name: `[A-Za-z_][A-Za-z0-9_]*`, with single `-` allowed between word characters.
pub fn word<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Ident> {
    let (rest, word) = word_ref(cx, input)?;
    Ok((rest, Spanned::new(word.node.to_string(), word.span)))
}

/// [`word`] borrowed from the source, for words that are only compared (statement keywords,
/// option names): most words of a program are, and copying each one cost an allocation.
pub fn word_ref<'a>(cx: &Ctx, input: &'a str) -> PResult<'a, Spanned<&'a str>> {
    let len = ident_len(input);
    if len == 0 {
        return Err(nom::Err::Error(PError::expected(input, "a name")));
    }
    if len > MAX_IDENT_LEN {
        return PError::at(
            input,
            len,
            &codes::IDENTIFIER_TOO_LONG,
            format!("identifier is {len} bytes long; the limit is {MAX_IDENT_LEN}"),
            "this name is too long",
        )
        .help("choose a shorter name")
        .fail();
    }
    let span = cx.span_len(input, len);
    Ok((&input[len..], Spanned::new(&input[..len], span)))
}

/// A name where one is required: failing here is a syntax error naming `what`.
pub fn ident<'a>(cx: &Ctx, input: &'a str, what: &str) -> PResult<'a, Ident> {
    let (rest, word) = ident_ref(cx, input, what)?;
    Ok((rest, Spanned::new(word.node.to_string(), word.span)))
}

/// [`ident`] borrowed from the source, for a required word that is only compared.
pub fn ident_ref<'a>(cx: &Ctx, input: &'a str, what: &str) -> PResult<'a, Spanned<&'a str>> {
    match word_ref(cx, input) {
        Err(nom::Err::Error(_)) => PError::expected(input, what)
            .help("a name starts with a letter or `_` and goes on with letters, digits, `_` or `-`")
            .fail(),
        other => other,
    }
}

/// Peeks the word at `input` without consuming it.
pub fn peek_word(input: &str) -> Option<&str> {
    let len = ident_len(input);
    (len > 0).then(|| &input[..len])
}

/// Consumes the keyword `kw` (a whole word) or fails with "expected `kw`".
pub fn keyword<'a>(input: &'a str, kw: &str) -> PResult<'a, ()> {
    if peek_word(input) == Some(kw) {
        Ok((&input[kw.len()..], ()))
    } else {
        PError::expected(input, &format!("`{kw}`")).fail()
    }
}

/// Consumes the punctuation `symbol` or fails with "expected `symbol`".
pub fn symbol<'a>(input: &'a str, symbol: &str) -> PResult<'a, ()> {
    match input.strip_prefix(symbol) {
        Some(rest) => Ok((rest, ())),
        None => PError::expected(input, &format!("`{symbol}`")).fail(),
    }
}

/// A double-quoted string on one line, with escapes `\" \\ \n \t \r \u{…}`.
pub fn string<'a>(cx: &Ctx, input: &'a str, what: &str) -> PResult<'a, Spanned<String>> {
    let Some(body) = input.strip_prefix('"') else {
        let error = PError::expected(input, what);
        return match peek_word(input) {
            Some(bare) => error
                .help(format!("write it in double quotes: \"{bare}\""))
                .fail(),
            None => error.fail(),
        };
    };
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let rest = &body[i + 1..];
                return Ok((rest, Spanned::new(value, cx.span(input, rest))));
            }
            '\n' => break,
            '\\' => match chars.next() {
                Some((_, '"')) => value.push('"'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((j, 'u')) => {
                    let escape = &body[j + 1..];
                    let Some(ch) = unicode_escape(escape) else {
                        return PError::at(
                            &body[i..],
                            2,
                            &codes::SYNTAX,
                            "invalid unicode escape",
                            "expected `\\u{HEX}`",
                        )
                        .help("write a code point as `\\u{1F596}`")
                        .fail();
                    };
                    value.push(ch);
                    let close = escape.find('}').unwrap_or(0);
                    for _ in 0..=close {
                        chars.next();
                    }
                }
                Some((_, '\n')) | None => break,
                Some((j, other)) => {
                    return PError::at(
                        &body[i..],
                        j + other.len_utf8() - i,
                        &codes::SYNTAX,
                        format!("unknown escape `\\{other}` in string"),
                        "unknown escape",
                    )
                    .help("the escapes are \\\" \\\\ \\n \\t \\r and \\u{…}")
                    .fail()
                }
            },
            _ => value.push(c),
        }
    }
    let line_len = input.find('\n').unwrap_or(input.len());
    PError::at(
        input,
        line_len,
        &codes::UNTERMINATED_STRING,
        "unterminated string",
        "this string is never closed",
    )
    .help("add the closing `\"`; strings cannot span lines")
    .fail()
}

fn unicode_escape(escape: &str) -> Option<char> {
    let inner = escape.strip_prefix('{')?;
    let close = inner.find('}')?;
    if close == 0 || close > 6 {
        return None;
    }
    u32::from_str_radix(&inner[..close], 16)
        .ok()
        .and_then(char::from_u32)
}

/// A decimal integer (digits and `_`), checked for overflow.
pub fn integer<'a>(cx: &Ctx, input: &'a str, what: &str) -> PResult<'a, Spanned<u64>> {
    let digits: PResult<'a, &'a str> =
        take_while1(|c: char| c.is_ascii_digit() || c == '_').parse(input);
    let Ok((rest, digits)) = digits else {
        return PError::expected(input, what).fail();
    };
    if !digits.starts_with(|c: char| c.is_ascii_digit()) {
        return PError::expected(input, what).fail();
    }
    let mut value: u64 = 0;
    for c in digits.chars().filter(|c| *c != '_') {
        let digit = u64::from(c as u8 - b'0');
        match value.checked_mul(10).and_then(|v| v.checked_add(digit)) {
            Some(v) => value = v,
            None => {
                return PError::at(
                    input,
                    digits.len(),
                    &codes::NUMBER_OUT_OF_RANGE,
                    "integer does not fit in 64 bits",
                    "this number is too large",
                )
                .help(format!("the largest integer is {}", u64::MAX))
                .fail()
            }
        }
    }
    Ok((rest, Spanned::new(value, cx.span(input, rest))))
}

/// Fails at the word `found` with "expected EXPECTED, found `…`" and a did-you-mean among `choices`.
pub fn wrong_word<'a, T>(
    cx: &Ctx,
    found: &Spanned<&str>,
    expected: &str,
    choices: &[&str],
) -> PResult<'a, T> {
    let at = &cx.src[found.span.start as usize..];
    let mut error = PError::at(
        at,
        found.node.len(),
        &codes::SYNTAX,
        format!("expected {expected}, found `{}`", found.node),
        format!("expected {expected}"),
    );
    error = match crate::diagnostics::suggest::closest(found.node, choices.iter().copied()) {
        Some(s) => error.help(format!("did you mean `{s}`?")),
        None => error.help(format!("write {expected}")),
    };
    error.fail()
}
