//! Path and host normalization, applied to request paths before matching (the runtime then
//! forwards the normalized path) and to route paths when the table is built, under the
//! gateway's [`PathPolicy`] (see the policy in [`super`]).
//!
//! In order: percent escapes are checked, `%2F` / `%5C` / `\` are refused, kept or unescaped as
//! the policy says, `%00` is refused, unreserved characters are decoded and the hex digits of
//! other escapes upper-cased (RFC 3986 §6.2.2.1–2), runs of `/` are merged (unless the policy
//! keeps them), and `.` / `..` segments are removed (RFC 3986 §5.2.4). Merging before removing
//! dot segments is what nginx does (`/a//../b` is `/b`). The result is a fixed point: normalizing
//! it again changes nothing, so an upstream that normalizes too sees the path that was matched.

use std::borrow::Cow;

use crate::types::gateway::{EscapedSlashes, PathPolicy};

/// A request path the matcher refuses (the runtime answers 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/` (for example `*` or `a/b`).
    #[error("the path does not start with `/`")]
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    #[error("the path has a malformed percent escape at byte {0}")]
    BadEscape(usize),
    /// `%2F` or `%5C` under the `reject` policy.
    #[error("the path has an encoded slash or backslash (%2F or %5C) at byte {0}, which this gateway refuses")]
    EscapedSlash(usize),
    /// A raw `\` under the `reject` policy.
    #[error("the path has a backslash at byte {0}, which this gateway refuses")]
    Backslash(usize),
    /// `%00`, which servers that decode it may read as the end of the path.
    #[error("the path has an encoded NUL (%00) at byte {0}")]
    EncodedNul(usize),
}

/// Normalizes a path under the default policy (merge slashes, refuse escaped slashes).
pub fn normalize_path(path: &str) -> Result<Cow<'_, str>, PathError> {
    normalize_request_path(path, &PathPolicy::default())
}

/// Normalizes a path under `policy`. Borrows when nothing changes (the usual case: one scan of
/// the bytes, no allocation).
pub fn normalize_request_path<'p>(
    path: &'p str,
    policy: &PathPolicy,
) -> Result<Cow<'p, str>, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if is_normal(path, policy) {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode(path, policy.escaped_slashes)?;
    let merged = if policy.merge_slashes {
        merge_slashes(&decoded)
    } else {
        decoded
    };
    let normal = if has_dot_segment(&merged) {
        remove_dot_segments(&merged)
    } else {
        merged
    };
    Ok(if normal == path {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(normal)
    })
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

/// Whether `path` is already normal: no escape, no backslash, no `//` (when merging) and no dot
/// segment. One pass over the bytes.
fn is_normal(path: &str, policy: &PathPolicy) -> bool {
    let bytes = path.as_bytes();
    for (i, byte) in bytes.iter().enumerate() {
        match byte {
            b'%' | b'\\' => return false,
            b'/' => match (
                bytes.get(i + 1).copied(),
                bytes.get(i + 2).copied(),
                bytes.get(i + 3).copied(),
            ) {
                (Some(b'/'), _, _) if policy.merge_slashes => return false,
                (Some(b'.'), None | Some(b'/'), _) => return false,
                (Some(b'.'), Some(b'.'), None | Some(b'/')) => return false,
                _ => {}
            },
            _ => {}
        }
    }
    true
}

/// Checks and rewrites escapes and backslashes (see the module comment).
fn decode(path: &str, escaped_slashes: EscapedSlashes) -> Result<String, PathError> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let (Some(hi), Some(lo)) = (
                    bytes.get(i + 1).copied().and_then(hex_value),
                    bytes.get(i + 2).copied().and_then(hex_value),
                ) else {
                    return Err(PathError::BadEscape(i));
                };
                match hi * 16 + lo {
                    0 => return Err(PathError::EncodedNul(i)),
                    b'/' | b'\\' => match escaped_slashes {
                        EscapedSlashes::Reject => return Err(PathError::EscapedSlash(i)),
                        EscapedSlashes::Keep => push_escape(&mut out, hi, lo),
                        EscapedSlashes::Unescape => out.push('/'),
                    },
                    value if is_unreserved(value) => out.push(char::from(value)),
                    _ => push_escape(&mut out, hi, lo),
                }
                i += 3;
            }
            b'\\' => {
                match escaped_slashes {
                    EscapedSlashes::Reject => return Err(PathError::Backslash(i)),
                    EscapedSlashes::Keep => out.push_str("%5C"),
                    EscapedSlashes::Unescape => out.push('/'),
                }
                i += 1;
            }
            _ => {
                // Copy the run up to the next escape or backslash in one go (ASCII cuts keep it
                // on character boundaries).
                let end = bytes[i..]
                    .iter()
                    .position(|b| matches!(b, b'%' | b'\\'))
                    .map_or(bytes.len(), |n| i + n);
                out.push_str(&path[i..end]);
                i = end;
            }
        }
    }
    Ok(out)
}

fn push_escape(out: &mut String, hi: u8, lo: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(hi)]));
    out.push(char::from(HEX[usize::from(lo)]));
}

/// RFC 3986 §2.3: `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
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

/// Every run of `/` becomes one `/`.
fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut previous_slash = false;
    for c in path.chars() {
        if c == '/' && previous_slash {
            continue;
        }
        previous_slash = c == '/';
        out.push(c);
    }
    out
}

/// Whether some segment is `.` or `..`.
fn has_dot_segment(path: &str) -> bool {
    path.contains("/.") && path.split('/').any(|s| s == "." || s == "..")
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
mod tests;
