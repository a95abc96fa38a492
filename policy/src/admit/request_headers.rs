//! The request headers admission and request CEL read, wherever they are held: the header lines
//! of an HTTP/1 head as received ([`RawHeaders`]), or an `http::HeaderMap` (HTTP/2, tests).
//! Admission looks up a handful of names per request; scanning a dozen received lines for them
//! costs far less than hashing every line into a map first, so HTTP/1 requests are read in place.
//!
//! Both forms answer alike: names are case-insensitive, values are the bytes as received, and a
//! value reads as text only when it is visible ASCII (as `HeaderValue::to_str` has it).

use std::borrow::Cow;

use http::header::AsHeaderName;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::wire::raw_headers::RawHeaders;

/// A borrowed view of a request's headers.
#[derive(Debug, Clone, Copy)]
pub enum RequestHeaders<'a> {
    /// Headers held in a map.
    Map(&'a HeaderMap),
    /// Header lines of an HTTP/1 head, as received.
    Lines(&'a RawHeaders),
}

impl<'a> From<&'a HeaderMap> for RequestHeaders<'a> {
    fn from(map: &'a HeaderMap) -> Self {
        RequestHeaders::Map(map)
    }
}

impl<'a> From<&'a RawHeaders> for RequestHeaders<'a> {
    fn from(lines: &'a RawHeaders) -> Self {
        RequestHeaders::Lines(lines)
    }
}

impl<'a> RequestHeaders<'a> {
    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&'a [u8]> {
        match *self {
            RequestHeaders::Map(map) => map.get(name).map(HeaderValue::as_bytes),
            RequestHeaders::Lines(lines) => lines.get(name.as_str().as_bytes()),
        }
    }

    /// The first value of `name` as text, if it is visible ASCII.
    pub fn get_str(&self, name: &HeaderName) -> Option<&'a str> {
        self.get(name).and_then(visible_ascii)
    }

    /// The first value of `name` as a header value (sharing the request's memory where it can),
    /// for answers that echo it (CORS).
    pub fn value(&self, name: &HeaderName) -> Option<HeaderValue> {
        match *self {
            RequestHeaders::Map(map) => map.get(name).cloned(),
            RequestHeaders::Lines(lines) => lines
                .get_shared(name.as_str().as_bytes())
                .and_then(|bytes| HeaderValue::from_maybe_shared(bytes).ok()),
        }
    }

    /// Header `name` as CEL reads it: every value joined with `, ` (RFC 9110 §5.3), each read as
    /// UTF-8 (lossily). A [`HeaderName`] is found in a map faster than a `&str`, which is parsed
    /// on every lookup.
    pub fn text<N: AsHeaderName + AsRef<str>>(&self, name: N) -> Option<Cow<'a, str>> {
        match *self {
            RequestHeaders::Map(map) => joined(map.get_all(name).iter().map(HeaderValue::as_bytes)),
            RequestHeaders::Lines(lines) => joined(lines.get_all(name.as_ref().as_bytes())),
        }
    }

    /// The distinct header names, in lower case, in the order they first appear.
    pub fn names(&self) -> Vec<Cow<'a, str>> {
        match *self {
            RequestHeaders::Map(map) => map.keys().map(|k| Cow::Borrowed(k.as_str())).collect(),
            RequestHeaders::Lines(lines) => {
                let mut names: Vec<Cow<'a, str>> = Vec::with_capacity(lines.len());
                for (name, _, _) in lines.iter() {
                    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
                    if !names.iter().any(|seen| **seen == *lower) {
                        names.push(Cow::Owned(lower));
                    }
                }
                names
            }
        }
    }
}

/// The values joined with `, `, or `None` when there are none.
fn joined<'a>(mut values: impl Iterator<Item = &'a [u8]>) -> Option<Cow<'a, str>> {
    let first = values.next()?;
    // The same text as `from_utf8_lossy`, whose general path costs more for the usual valid value.
    let mut text = match std::str::from_utf8(first) {
        Ok(valid) => Cow::Borrowed(valid),
        Err(_) => String::from_utf8_lossy(first),
    };
    for value in values {
        let joined = text.to_mut();
        joined.push_str(", ");
        joined.push_str(&String::from_utf8_lossy(value));
    }
    Some(text)
}

/// `bytes` as text when every byte is visible ASCII or a tab (`HeaderValue::to_str`'s rule).
pub fn visible_ascii(bytes: &[u8]) -> Option<&str> {
    if bytes
        .iter()
        .all(|b| *b == b'\t' || (0x20..0x7f).contains(b))
    {
        // Visible ASCII is UTF-8.
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::raw_headers::RawHeadersBuilder;
    use bytes::Bytes;

    fn lines(text: &'static str) -> RawHeaders {
        let head = Bytes::from_static(text.as_bytes());
        let mut builder = RawHeadersBuilder::new(head.as_ptr(), 4);
        let mut at = 0;
        for line in text.split("\r\n") {
            if let Some((name, value)) = line.split_once(": ") {
                let value_at = at + name.len() + 2;
                builder.push(
                    &head[at..at + name.len()],
                    &head[value_at..value_at + value.len()],
                );
            }
            at += line.len() + 2;
        }
        builder.finish(head)
    }

    fn map(raw: &RawHeaders) -> HeaderMap {
        raw.to_header_map()
    }

    #[test]
    fn lines_and_maps_read_the_same() {
        let raw = lines("Host: a.test\r\nX-Tag: 1\r\nx-tag: 2\r\nX-Bin: caf\u{e9}\r\n");
        let map = map(&raw);
        for view in [RequestHeaders::from(&raw), RequestHeaders::from(&map)] {
            assert_eq!(view.get(&http::header::HOST), Some(&b"a.test"[..]));
            assert_eq!(view.get_str(&HeaderName::from_static("x-tag")), Some("1"));
            assert_eq!(view.get_str(&HeaderName::from_static("x-bin")), None);
            assert_eq!(view.text("X-TAG").as_deref(), Some("1, 2"));
            assert_eq!(view.text("x-missing"), None);
            assert_eq!(view.names(), ["host", "x-tag", "x-bin"]);
            assert_eq!(view.value(&HeaderName::from_static("x-tag")).unwrap(), "1");
        }
    }
}
