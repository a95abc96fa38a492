//! The headers of a message passing through the gateway: the lines as they arrived on an HTTP/1
//! connection, plus the gateway's own changes (header rules, CORS, `RateLimit-*`) kept beside
//! them. Writing the message copies the received lines that were not replaced, then the
//! gateway's; nothing is rehashed unless an HTTP/2 peer needs an `http::HeaderMap`. The
//! gateway's changes to received lines are kept in a short list ([`HeaderEdits`]).

use http::header::{HeaderMap, HeaderName, HeaderValue};
use meshwork_bundle::matcher::{combined_value_equals, HeaderLookup};

use super::header_edits::HeaderEdits;
use super::http1::raw_headers::{classify, NameKind, RawHeaders};
use crate::admit::HeaderSink;

/// Received header lines and the gateway's changes to them.
#[derive(Debug, Clone, Default)]
pub struct MessageHeaders {
    /// The lines as received (empty for HTTP/2 and for the gateway's own answers).
    raw: RawHeaders,
    /// Names whose received lines are not sent: set or removed by the gateway.
    replaced: Vec<HeaderName>,
    /// All the headers of a message held in a map (HTTP/2, the gateway's answers), and the
    /// gateway's changes to it; empty for a message received as lines.
    own: HeaderMap,
    /// The gateway's changes to a message received as lines.
    edits: HeaderEdits,
}

impl MessageHeaders {
    /// Headers received on an HTTP/1 connection.
    pub fn from_raw(raw: RawHeaders) -> Self {
        MessageHeaders {
            raw,
            replaced: Vec::new(),
            own: HeaderMap::new(),
            edits: HeaderEdits::default(),
        }
    }

    /// Headers held in a map (HTTP/2, the gateway's answers).
    pub fn from_map(own: HeaderMap) -> Self {
        MessageHeaders {
            raw: RawHeaders::default(),
            replaced: Vec::new(),
            own,
            edits: HeaderEdits::default(),
        }
    }

    /// The received lines (including replaced ones).
    pub fn raw(&self) -> &RawHeaders {
        &self.raw
    }

    /// The headers of a message held in a map (empty for a message received as lines).
    pub fn own(&self) -> &HeaderMap {
        &self.own
    }

    /// Whether these are received lines exactly as they came, without the gateway's changes.
    pub fn is_as_received(&self) -> bool {
        !self.raw.is_empty() && self.edits.is_empty() && self.replaced.is_empty()
    }

    /// Whether the headers are held in a map rather than as received lines.
    fn is_map(&self) -> bool {
        self.raw.is_empty()
    }

    fn is_replaced(&self, name: &[u8]) -> bool {
        !self.replaced.is_empty()
            && self
                .replaced
                .iter()
                .any(|n| n.as_str().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Every header to send as `(name, value, kind)`: received lines not replaced, then the
    /// gateway's.
    pub fn lines(&self) -> impl Iterator<Item = (&[u8], &[u8], NameKind)> {
        let received = self
            .raw
            .iter()
            .filter(|(name, _, _)| !self.is_replaced(name));
        let own = self
            .own
            .iter()
            .map(|(name, value)| (name, value.as_bytes()))
            .chain(self.edits.iter());
        let own = own.map(|(name, value)| {
            let name = name.as_str().as_bytes();
            (name, value, classify(name))
        });
        received.chain(own)
    }

    /// The first value of `name` (given in lower case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        if self.is_map() {
            return self.own.get(name).map(HeaderValue::as_bytes);
        }
        if let Some(value) = self.edits.get(name) {
            return Some(value);
        }
        if self.is_replaced(name.as_bytes()) {
            return None;
        }
        self.raw.get(name.as_bytes())
    }

    /// The `traceparent` value to read a trace from (the first line, as W3C trace context asks).
    #[inline]
    pub fn traceparent(&self) -> Option<&[u8]> {
        if self.is_map() {
            return self.own.get("traceparent").map(HeaderValue::as_bytes);
        }
        self.raw.get_kind(NameKind::TraceParent)
    }

    /// Calls `f` with every header to send, in the order of [`MessageHeaders::lines`]. For the
    /// encoders, which visit every line of every message: a loop per part costs less than a
    /// chained iterator per line.
    pub fn for_each_line(&self, mut f: impl FnMut(&[u8], &[u8], NameKind)) {
        let any_replaced = !self.replaced.is_empty();
        for (name, value, kind) in self.raw.iter() {
            if !(any_replaced && self.is_replaced(name)) {
                f(name, value, kind);
            }
        }
        for (name, value) in &self.own {
            let name = name.as_str().as_bytes();
            f(name, value.as_bytes(), classify(name));
        }
        for (name, value) in self.edits.iter() {
            let name = name.as_str().as_bytes();
            f(name, value, classify(name));
        }
    }

    /// Whether a header of `kind` will be sent.
    pub fn has_kind(&self, kind: NameKind) -> bool {
        let received = self
            .raw
            .iter()
            .any(|(name, _, k)| k == kind && !self.is_replaced(name));
        received
            || self
                .own
                .keys()
                .chain(self.edits.iter().map(|(name, _)| name))
                .any(|name| classify(name.as_str().as_bytes()) == kind)
    }

    /// Everything as an `http::HeaderMap`.
    pub fn to_header_map(&self) -> HeaderMap {
        if self.raw.is_empty() {
            return self.own.clone();
        }
        let mut map = self.raw.to_header_map();
        for name in &self.replaced {
            map.remove(name);
        }
        for (name, value) in self.edits.header_values() {
            map.append(name.clone(), value);
        }
        map
    }

    /// Everything as an `http::HeaderMap`, consuming the headers.
    pub fn into_header_map(self) -> HeaderMap {
        if self.raw.is_empty() {
            return self.own;
        }
        self.to_header_map()
    }
}

impl MessageHeaders {
    /// Stops sending the received lines of `name`, if there are any. (A name the message did not
    /// bring, like `RateLimit-*` on most responses, is not recorded: nothing to hide.)
    fn replace_received(&mut self, name: &HeaderName) {
        if self.raw.get(name.as_str().as_bytes()).is_some() && !self.replaced.contains(name) {
            self.replaced.push(name.clone());
        }
    }
}

impl HeaderSink for MessageHeaders {
    fn set_header(&mut self, name: HeaderName, value: HeaderValue) {
        if self.is_map() {
            self.own.insert(name, value);
            return;
        }
        self.replace_received(&name);
        self.edits.set(name, value);
    }

    fn set_number(&mut self, name: HeaderName, value: u64) {
        if self.is_map() {
            self.own.insert(name, HeaderValue::from(value));
            return;
        }
        self.replace_received(&name);
        self.edits.set_number(name, value);
    }

    fn append_header(&mut self, name: HeaderName, value: HeaderValue) {
        if self.is_map() {
            self.own.append(name, value);
            return;
        }
        self.edits.append(name, value);
    }

    fn remove_header(&mut self, name: &HeaderName) {
        if self.is_map() {
            self.own.remove(name);
            return;
        }
        self.replace_received(name);
        self.edits.remove(name);
    }
}

impl HeaderLookup for MessageHeaders {
    /// The lines in the order they are sent: the received ones not replaced, then the gateway's.
    fn has_value(&self, name: &str, value: &str) -> bool {
        let value = value.as_bytes();
        if self.is_map() {
            let values = self.own.get_all(name).iter().map(|v| v.as_bytes());
            return combined_value_equals(values, value);
        }
        let received = (!self.is_replaced(name.as_bytes()))
            .then(|| self.raw.get_all(name.as_bytes()))
            .into_iter()
            .flatten();
        let own = self
            .edits
            .iter()
            .filter(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v);
        combined_value_equals(received.chain(own), value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::http1::raw_headers::RawHeadersBuilder;
    use bytes::Bytes;

    fn received() -> MessageHeaders {
        let head = Bytes::from_static(b"Server: up\r\nVary: Accept\r\nX-Id: 7\r\n");
        let mut builder = RawHeadersBuilder::new(head.as_ptr(), 3);
        builder.push(&head[0..6], &head[8..10]);
        builder.push(&head[12..16], &head[18..24]);
        builder.push(&head[26..30], &head[32..33]);
        MessageHeaders::from_raw(builder.finish(head))
    }

    fn sent(headers: &MessageHeaders) -> Vec<String> {
        headers
            .lines()
            .map(|(n, v, _)| {
                format!(
                    "{}: {}",
                    String::from_utf8_lossy(n),
                    String::from_utf8_lossy(v)
                )
            })
            .collect()
    }

    #[test]
    fn set_replaces_received_lines_append_adds_and_remove_drops() {
        let mut headers = received();
        headers.set_header(
            HeaderName::from_static("server"),
            HeaderValue::from_static("meshd"),
        );
        headers.append_header(http::header::VARY, HeaderValue::from_static("Origin"));
        headers.remove_header(&HeaderName::from_static("x-id"));
        assert_eq!(
            sent(&headers),
            ["Vary: Accept", "server: meshd", "vary: Origin"]
        );
        assert_eq!(headers.get("server"), Some(&b"meshd"[..]));
        assert_eq!(headers.get("x-id"), None);
        let map = headers.to_header_map();
        assert_eq!(map.get_all("vary").iter().count(), 2);
        assert!(map.get("x-id").is_none());
    }

    #[test]
    fn the_gateways_own_changes_read_like_a_map() {
        let mut headers = received();
        let limit = HeaderName::from_static("ratelimit-limit");
        let policy = HeaderName::from_static("ratelimit-policy");
        headers.set_header(limit.clone(), HeaderValue::from_static("5"));
        headers.set_header(policy.clone(), HeaderValue::from_static("5;w=60"));
        headers.append_header(limit.clone(), HeaderValue::from_static("6"));
        headers.set_header(
            HeaderName::from_static("x-id"),
            HeaderValue::from_static("9"),
        );
        assert_eq!(
            sent(&headers),
            [
                "Server: up",
                "Vary: Accept",
                "ratelimit-limit: 5",
                "ratelimit-limit: 6",
                "ratelimit-policy: 5;w=60",
                "x-id: 9"
            ]
        );
        headers.set_header(limit.clone(), HeaderValue::from_static("7"));
        headers.remove_header(&policy);
        assert_eq!(headers.get("ratelimit-limit"), Some(&b"7"[..]));
        assert_eq!(headers.get("ratelimit-policy"), None);
        assert_eq!(
            sent(&headers),
            [
                "Server: up",
                "Vary: Accept",
                "ratelimit-limit: 7",
                "x-id: 9"
            ]
        );
        assert!(!headers.is_as_received());
        assert!(received().is_as_received());
    }

    #[test]
    fn every_way_of_walking_the_lines_agrees() {
        let mut headers = received();
        headers.set_header(
            HeaderName::from_static("server"),
            HeaderValue::from_static("meshd"),
        );
        headers.set_number(HeaderName::from_static("ratelimit-remaining"), 4);
        let mut walked = Vec::new();
        headers.for_each_line(|name, value, kind| {
            walked.push((name.to_vec(), value.to_vec(), kind));
        });
        let listed: Vec<_> = headers
            .lines()
            .map(|(name, value, kind)| (name.to_vec(), value.to_vec(), kind))
            .collect();
        assert_eq!(walked, listed);
        assert_eq!(walked.len(), 4);
        assert!(!headers.has_kind(NameKind::Host));
        headers.set_header(http::header::HOST, HeaderValue::from_static("h"));
        assert!(headers.has_kind(NameKind::Host));
        let map = MessageHeaders::from_map(headers.to_header_map());
        assert!(map.has_kind(NameKind::Host));
        assert!(!map.has_kind(NameKind::ContentLength));
    }

    #[test]
    fn lookups_for_matching_see_received_and_own_values_as_one_joined_value() {
        let mut headers = received();
        assert!(headers.has_value("x-id", "7"));
        headers.append_header(
            HeaderName::from_static("x-id"),
            HeaderValue::from_static("8"),
        );
        assert!(headers.has_value("x-id", "7, 8"));
        assert!(!headers.has_value("x-id", "8"));
        headers.set_header(
            HeaderName::from_static("x-id"),
            HeaderValue::from_static("9"),
        );
        assert!(headers.has_value("x-id", "9"));
        assert!(!headers.has_value("x-id", "7, 9"));
        let map = MessageHeaders::from_map(received().to_header_map());
        assert!(map.has_value("x-id", "7"));
        assert!(!map.has_value("x-missing", ""));
    }
}
