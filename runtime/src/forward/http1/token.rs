//! RFC 9110's `token` (§5.6.2), what field names, methods and chunk extension names are made of.

/// Whether `b` is a `tchar`: a visible ASCII character other than a delimiter.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `text` is a token: one or more `tchar`s.
pub fn is_token(text: &[u8]) -> bool {
    !text.is_empty() && text.iter().all(|b| is_tchar(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_visible_characters_without_delimiters() {
        assert!(is_token(b"x-trace"));
        assert!(is_token(b"!#$%&'*+-.^_`|~09az"));
        for delimiter in b"\"(),/:;<=>?@[\\]{} \t\x7f\0" {
            assert!(!is_token(&[b'x', *delimiter]), "{:?}", *delimiter as char);
        }
        assert!(!is_token(b""));
        assert!(!is_token("é".as_bytes()));
    }
}
