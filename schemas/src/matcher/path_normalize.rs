//! Path and host normalization, applied to request paths before matching and to route paths when
//! the table is built (see the policy in [`super`]).

use std::borrow::Cow;

/// A request path the matcher cannot normalize.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/` (for example `*` or `a/b`).
    #[error("the path does not start with `/`")]
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    #[error("the path has a malformed percent escape at byte {0}")]
    BadEscape(usize),
}

/// Normalizes a path: decodes percent-encoded unreserved characters, upper-cases the hex digits of
/// the other escapes and removes `.` and `..` segments. Borrows when nothing changes (the usual case).
pub fn normalize_path(path: &str) -> Result<Cow<'_, str>, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let needs_decode = path.contains('%');
    if !needs_decode && !has_dot_segment(path) {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = if needs_decode {
        Cow::Owned(decode_unreserved(path)?)
    } else {
        Cow::Borrowed(path)
    };
    if has_dot_segment(&decoded) {
        Ok(Cow::Owned(remove_dot_segments(&decoded)))
    } else {
        Ok(decoded)
    }
}

/// Lower-cases a host and drops a trailing dot; borrows when nothing changes.
pub fn normalize_host(host: &str) -> Cow<'_, str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// Whether some segment is `.` or `..` (a substring search first: most paths have no `/.`).
fn has_dot_segment(path: &str) -> bool {
    path.contains("/.") && path.split('/').any(|s| s == "." || s == "..")
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn decode_unreserved(path: &str) -> Result<String, PathError> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte != b'%' {
            // Copy the run up to the next escape in one go (it is valid UTF-8 as a slice of `path`).
            let end = path[i..].find('%').map_or(bytes.len(), |n| i + n);
            out.push_str(&path[i..end]);
            i = end;
            continue;
        }
        let (Some(hi), Some(lo)) = (
            bytes.get(i + 1).copied().and_then(hex_value),
            bytes.get(i + 2).copied().and_then(hex_value),
        ) else {
            return Err(PathError::BadEscape(i));
        };
        let value = hi * 16 + lo;
        if is_unreserved(value) {
            out.push(char::from(value));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(hi)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(lo)]));
        }
        i += 3;
    }
    Ok(out)
}

/// RFC 3986 §5.2.4 for an absolute path: `.` segments vanish, `..` removes the previous segment
/// (never above the root). A path ending in `.` or `..` keeps its trailing slash.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut segments = path[1..].split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        match segment {
            "." => {
                if last {
                    kept.push("");
                }
            }
            ".." => {
                kept.pop();
                if last {
                    kept.push("");
                }
            }
            other => kept.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &kept {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(path: &str) -> String {
        normalize_path(path).unwrap().into_owned()
    }

    #[test]
    fn a_plain_path_is_borrowed_unchanged() {
        assert!(matches!(
            normalize_path("/a/b/"),
            Ok(Cow::Borrowed("/a/b/"))
        ));
        assert!(matches!(normalize_path("/a..b/.c"), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn unreserved_escapes_are_decoded_and_others_upper_cased() {
        assert_eq!(norm("/%61dmin"), "/admin");
        assert_eq!(norm("/a%7Eb%2d"), "/a~b-");
        assert_eq!(norm("/a%2fb"), "/a%2Fb");
        assert_eq!(norm("/caf%c3%a9"), "/caf%C3%A9");
        assert_eq!(norm("/sp%20ace"), "/sp%20ace");
    }

    #[test]
    fn dot_segments_are_removed_without_climbing_above_the_root() {
        assert_eq!(norm("/a/./b"), "/a/b");
        assert_eq!(norm("/a/../admin"), "/admin");
        assert_eq!(norm("/../../etc"), "/etc");
        assert_eq!(norm("/a/b/.."), "/a/");
        assert_eq!(norm("/a/."), "/a/");
        assert_eq!(norm("/.."), "/");
        assert_eq!(norm("/."), "/");
    }

    #[test]
    fn encoded_dots_are_removed_too() {
        assert_eq!(norm("/x/%2e%2E/admin"), "/admin");
        assert_eq!(norm("/x/%2e/y"), "/x/y");
    }

    #[test]
    fn malformed_escapes_and_relative_paths_are_errors() {
        assert_eq!(normalize_path("/a%zz"), Err(PathError::BadEscape(2)));
        assert_eq!(normalize_path("/a%4"), Err(PathError::BadEscape(2)));
        assert_eq!(normalize_path("/a%"), Err(PathError::BadEscape(2)));
        assert_eq!(normalize_path("*"), Err(PathError::NotAbsolute));
        assert_eq!(normalize_path(""), Err(PathError::NotAbsolute));
    }

    #[test]
    fn multibyte_text_between_escapes_survives() {
        assert_eq!(norm("/é%41/ü"), "/éA/ü");
    }

    #[test]
    fn hosts_are_lower_cased_without_trailing_dot() {
        assert_eq!(normalize_host("API.Example.com."), "api.example.com");
        assert!(matches!(normalize_host("a.io"), Cow::Borrowed("a.io")));
    }
}
