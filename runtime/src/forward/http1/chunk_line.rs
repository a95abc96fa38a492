//! One chunk-size line of a chunked body (RFC 9112 §7.1), checked strictly: a proxy that reads a
//! chunk boundary where its neighbour does not is how request smuggling starts, so everything a
//! lenient parser might guess at is refused instead.
//!
//! `chunk-size [ chunk-ext ] CRLF` with `chunk-size = 1*HEXDIG` (at most [`MAX_CHUNK_SIZE`]) and
//! `chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`. Refused: a line
//! ending in a bare LF, a size with a sign, `0x` or whitespace in front, a size that overflows or
//! passes the bound, whitespace after the size that does not lead to `;`, control characters,
//! and extensions that do not follow the grammar.

use super::token::is_tchar;

/// The largest chunk accepted: 4 GiB − 1, eight hex digits. RFC 9112 §7.1 lets a recipient bound
/// chunk sizes; no client sends larger chunks (Java's cannot pass 2 GiB), while a size such as
/// `ffffffffffffffff` would otherwise make the body wait for data that never comes.
pub const MAX_CHUNK_SIZE: u64 = (1 << 32) - 1;

/// Why a chunk-size line is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkLineError {
    /// The line does not end in CRLF.
    BareLineFeed,
    /// No hex digits, or something else where they belong.
    BadSize,
    /// The size passes [`MAX_CHUNK_SIZE`] (or a u64).
    TooLarge,
    /// The extensions do not follow the grammar.
    BadExtension,
}

/// A parsed chunk-size line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLine {
    /// The chunk's size (0 for the last chunk).
    pub size: u64,
    /// How many bytes of extensions followed the size (they are skipped).
    pub extension_bytes: usize,
}

/// Strips the CRLF that must end `line` (which ends at its LF); a bare LF is an error.
pub fn strip_crlf(line: &[u8]) -> Result<&[u8], ChunkLineError> {
    line.strip_suffix(b"\r\n")
        .ok_or(ChunkLineError::BareLineFeed)
}

/// Parses a chunk-size line, `line` ending with its LF.
pub fn parse_chunk_line(line: &[u8]) -> Result<ChunkLine, ChunkLineError> {
    let line = strip_crlf(line)?;
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(ChunkLineError::BadSize);
    }
    let mut size: u64 = 0;
    for digit in &line[..digits] {
        size = (size << 4) | u64::from(hex_value(*digit));
        if size > MAX_CHUNK_SIZE {
            return Err(ChunkLineError::TooLarge);
        }
    }
    let extensions = &line[digits..];
    check_extensions(extensions)?;
    Ok(ChunkLine {
        size,
        extension_bytes: extensions.len(),
    })
}

/// `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`.
fn check_extensions(mut rest: &[u8]) -> Result<(), ChunkLineError> {
    while !rest.is_empty() {
        rest = skip_whitespace(rest);
        rest = rest
            .strip_prefix(b";")
            .ok_or(ChunkLineError::BadExtension)?;
        rest = skip_whitespace(rest);
        rest = token(rest)?;
        let after_name = skip_whitespace(rest);
        if let Some(value) = after_name.strip_prefix(b"=") {
            let value = skip_whitespace(value);
            rest = if value.first() == Some(&b'"') {
                quoted_string(value)?
            } else {
                token(value)?
            };
        }
    }
    Ok(())
}

fn skip_whitespace(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    &bytes[n..]
}

/// One or more token characters (RFC 9110 §5.6.2); returns what follows.
fn token(bytes: &[u8]) -> Result<&[u8], ChunkLineError> {
    let n = bytes.iter().take_while(|b| is_tchar(**b)).count();
    if n == 0 {
        return Err(ChunkLineError::BadExtension);
    }
    Ok(&bytes[n..])
}

/// A quoted string (RFC 9110 §5.6.4) starting at `bytes[0] == '"'`; returns what follows.
fn quoted_string(bytes: &[u8]) -> Result<&[u8], ChunkLineError> {
    let mut i = 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => return Ok(&bytes[i + 1..]),
            b'\\' => match bytes.get(i + 1) {
                Some(&escaped) if escaped == b'\t' || (b' '..=b'~').contains(&escaped) => i += 2,
                _ => return Err(ChunkLineError::BadExtension),
            },
            b'\t' | b' '..=b'~' => i += 1,
            // obs-text and control characters (a CR, a NUL) are refused.
            _ => return Err(ChunkLineError::BadExtension),
        }
    }
    Err(ChunkLineError::BadExtension)
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(line: &str) -> Result<u64, ChunkLineError> {
        parse_chunk_line(line.as_bytes()).map(|l| l.size)
    }

    #[test]
    fn sizes_are_hex_with_any_case_and_leading_zeros() {
        assert_eq!(size("5\r\n"), Ok(5));
        assert_eq!(size("aF\r\n"), Ok(0xaf));
        assert_eq!(size("0000000000000000010\r\n"), Ok(16));
        assert_eq!(size("0\r\n"), Ok(0));
        assert_eq!(size("ffffffff\r\n"), Ok(MAX_CHUNK_SIZE));
    }

    #[test]
    fn a_line_ending_in_a_bare_line_feed_is_refused() {
        // RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF; §2.2 lets a recipient refuse bare LF.
        assert_eq!(size("5\n"), Err(ChunkLineError::BareLineFeed));
        assert_eq!(size("5;a=b\n"), Err(ChunkLineError::BareLineFeed));
        assert_eq!(strip_crlf(b"\n"), Err(ChunkLineError::BareLineFeed));
        assert_eq!(strip_crlf(b"\r\n"), Ok(&b""[..]));
    }

    #[test]
    fn sizes_past_the_bound_or_a_u64_are_refused() {
        assert_eq!(size("100000000\r\n"), Err(ChunkLineError::TooLarge));
        assert_eq!(size("ffffffffffffffff\r\n"), Err(ChunkLineError::TooLarge));
        assert_eq!(
            size("10000000000000000000000000\r\n"),
            Err(ChunkLineError::TooLarge)
        );
    }

    #[test]
    fn anything_but_hex_digits_in_front_is_refused() {
        for bad in ["\r\n", "+5\r\n", "-1\r\n", " 5\r\n", "zz\r\n", ";a\r\n"] {
            assert_eq!(size(bad), Err(ChunkLineError::BadSize), "{bad:?}");
        }
        // `0` is a size; what follows it is not an extension.
        assert_eq!(size("0x5\r\n"), Err(ChunkLineError::BadExtension));
    }

    #[test]
    fn extensions_follow_the_grammar() {
        for good in [
            "5;a\r\n",
            "5;a=b\r\n",
            "5 ; a = b\r\n",
            "5;a=\"quoted ; \\\" value\";b\r\n",
            "5\t;name=tok-en.1\r\n",
        ] {
            let line = parse_chunk_line(good.as_bytes()).unwrap();
            assert_eq!(line.size, 5, "{good:?}");
            assert_eq!(line.extension_bytes, good.len() - 3, "{good:?}");
        }
        for bad in [
            "5 \r\n",
            "5;\r\n",
            "5;a=\r\n",
            "5;a b\r\n",
            "5;a=\"open\r\n",
            "5;a=\"cr\rinside\"\r\n",
            "5;a=b c\r\n",
            "5x\r\n",
            "5;a=\"\0\"\r\n",
        ] {
            assert_eq!(
                parse_chunk_line(bad.as_bytes()),
                Err(ChunkLineError::BadExtension),
                "{bad:?}"
            );
        }
    }
}
