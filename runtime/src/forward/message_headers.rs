//! The headers of a message passing through the gateway: the lines as they arrived on an HTTP/1
//! connection, plus the gateway's own changes (header rules, CORS, `RateLimit-*`) kept beside
//! them. Writing the message copies the received lines that were not replaced, then the
//! gateway's; nothing is rehashed unless an HTTP/2 peer needs an `http::HeaderMap`.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use meshwork_bundle::matcher::HeaderLookup;
use smallvec::SmallVec;

use super::http1::raw_headers::{classify, NameKind, RawHeaders};
use crate::admit::HeaderSink;

/// Received header lines and the gateway's changes to them.
#[derive(Debug, Clone, Default)]
pub struct MessageHeaders {
    /// The lines as received (empty for HTTP/2 and for the gateway's own answers).
    raw: RawHeaders,
    /// Names whose received lines are not sent: set or removed by the gateway.
    replaced: SmallVec<[HeaderName; 2]>,
    /// Headers the gateway sets (all of them for HTTP/2 messages and the gateway's answers).
    own: HeaderMap,
}

impl MessageHeaders {
    /// Headers received on an HTTP/1 connection.
    pub fn from_raw(raw: RawHeaders) -> Self {
        MessageHeaders {
            raw,
            replaced: SmallVec::new(),
            own: HeaderMap::new(),
        }
    }

    /// Headers held in a map (HTTP/2, the gateway's answers).
    pub fn from_map(own: HeaderMap) -> Self {
        MessageHeaders {
            raw: RawHeaders::default(),
            replaced: SmallVec::new(),
            own,
        }
    }

    /// The received lines (including replaced ones).
    pub fn raw(&self) -> &RawHeaders {
        &self.raw
    }

    /// The headers the gateway set.
    pub fn own(&self) -> &HeaderMap {
        &self.own
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
        let own = self.own.iter().map(|(name, value)| {
            let name = name.as_str().as_bytes();
            (name, value.as_bytes(), classify(name))
        });
        received.chain(own)
    }

    /// The first value of `name` (given in lower case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        if let Some(value) = self.own.get(name) {
            return Some(value.as_bytes());
        }
        if self.raw.is_empty() || self.is_replaced(name.as_bytes()) {
            return None;
        }
        self.raw.get(name.as_bytes())
    }

    /// Whether a header of `kind` will be sent.
    pub fn has_kind(&self, kind: NameKind) -> bool {
        self.lines().any(|(_, _, k)| k == kind)
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
        for (name, value) in &self.own {
            map.append(name.clone(), value.clone());
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

impl HeaderSink for MessageHeaders {
    fn set_header(&mut self, name: HeaderName, value: HeaderValue) {
        if !self.raw.is_empty() && !self.replaced.contains(&name) {
            self.replaced.push(name.clone());
        }
        self.own.insert(name, value);
    }

    fn append_header(&mut self, name: HeaderName, value: HeaderValue) {
        self.own.append(name, value);
    }

    fn remove_header(&mut self, name: &HeaderName) {
        if !self.raw.is_empty() && !self.replaced.contains(name) {
            self.replaced.push(name.clone());
        }
        self.own.remove(name);
    }
}

impl HeaderLookup for MessageHeaders {
    fn has_value(&self, name: &str, value: &str) -> bool {
        let value = value.as_bytes();
        self.own.get_all(name).iter().any(|v| v.as_bytes() == value)
            || (!self.is_replaced(name.as_bytes())
                && self.raw.get_all(name.as_bytes()).any(|v| v == value))
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
    fn lookups_for_matching_see_received_and_own_values() {
        let mut headers = received();
        assert!(headers.has_value("x-id", "7"));
        headers.append_header(
            HeaderName::from_static("x-id"),
            HeaderValue::from_static("8"),
        );
        assert!(headers.has_value("x-id", "8"));
        assert!(!headers.has_value("x-id", "9"));
    }
}
