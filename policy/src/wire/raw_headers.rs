//! Header lines of an HTTP/1 head kept as they arrived: offsets into the head's bytes, each line
//! classified once by name. A proxy mostly copies header lines from one connection to another, so
//! building an `http::HeaderMap` (lower-casing, hashing, an allocation per unknown name) for every
//! message would be wasted work; a map is built only when something needs one
//! ([`RawHeaders::to_header_map`]).

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use smallvec::SmallVec;

/// What a header name means to the proxy; decided once per line when the head is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// Any other header: copied as it is.
    Other,
    /// `Content-Length`.
    ContentLength,
    /// `Transfer-Encoding` (hop-by-hop).
    TransferEncoding,
    /// `Connection` (hop-by-hop).
    Connection,
    /// `Host`.
    Host,
    /// `Expect`.
    Expect,
    /// `Date`.
    Date,
    /// `X-Forwarded-For`.
    ForwardedFor,
    /// `X-Forwarded-Proto`.
    ForwardedProto,
    /// `X-Forwarded-Host`.
    ForwardedHost,
    /// `traceparent` (W3C trace context): replaced by a tracing hop with its own span.
    TraceParent,
    /// `tracestate`: kept with a continued trace, dropped when a new one starts.
    TraceState,
    /// Another hop-by-hop header (`Keep-Alive`, `TE`, `Trailer`, `Upgrade`, `Proxy-*`).
    HopByHop,
    /// A header the message's `Connection` header names: hop-by-hop for this message.
    NamedByConnection,
}

impl NameKind {
    /// Whether the header describes one connection and is never forwarded (RFC 9110 §7.6.1).
    pub fn is_hop_by_hop(self) -> bool {
        matches!(
            self,
            NameKind::TransferEncoding
                | NameKind::Connection
                | NameKind::HopByHop
                | NameKind::NamedByConnection
        )
    }
}

/// Classifies a header name, case-insensitively. The length is compared first, so most names
/// are told apart without looking at their bytes.
pub fn classify(name: &[u8]) -> NameKind {
    let is = |known: &[u8]| name.eq_ignore_ascii_case(known);
    match name.len() {
        2 if is(b"te") => NameKind::HopByHop,
        4 if is(b"host") => NameKind::Host,
        4 if is(b"date") => NameKind::Date,
        6 if is(b"expect") => NameKind::Expect,
        7 if is(b"trailer") || is(b"upgrade") => NameKind::HopByHop,
        10 if is(b"connection") => NameKind::Connection,
        10 if is(b"keep-alive") => NameKind::HopByHop,
        10 if is(b"tracestate") => NameKind::TraceState,
        11 if is(b"traceparent") => NameKind::TraceParent,
        14 if is(b"content-length") => NameKind::ContentLength,
        15 if is(b"x-forwarded-for") => NameKind::ForwardedFor,
        16 if is(b"x-forwarded-host") => NameKind::ForwardedHost,
        16 if is(b"proxy-connection") => NameKind::HopByHop,
        17 if is(b"transfer-encoding") => NameKind::TransferEncoding,
        17 if is(b"x-forwarded-proto") => NameKind::ForwardedProto,
        18 if is(b"proxy-authenticate") => NameKind::HopByHop,
        19 if is(b"proxy-authorization") => NameKind::HopByHop,
        _ => NameKind::Other,
    }
}

/// One header line: where its name and value are in the head. Heads are at most 64 KiB (both
/// parsers refuse larger ones), so 16 bits hold every offset and length: a line takes 10 bytes,
/// which keeps [`RawHeaders`] small enough to move cheaply (it moves with every message).
#[derive(Debug, Clone, Copy)]
struct Line {
    name_at: u16,
    name_len: u16,
    value_at: u16,
    value_len: u16,
    kind: NameKind,
}

/// Header lines sharing the memory of the head they were parsed from.
#[derive(Debug, Clone, Default)]
pub struct RawHeaders {
    head: Bytes,
    lines: SmallVec<[Line; 12]>,
}

/// Collects the lines of one head while it is parsed.
#[derive(Debug, Default)]
pub struct RawHeadersBuilder {
    lines: SmallVec<[Line; 12]>,
    base: usize,
}

impl RawHeadersBuilder {
    /// A builder for slices of the buffer starting at `base` (its address).
    pub fn new(base: *const u8, capacity: usize) -> Self {
        RawHeadersBuilder {
            lines: SmallVec::with_capacity(capacity),
            base: base as usize,
        }
    }

    /// Adds a line whose name and value are slices of the buffer; returns its kind.
    pub fn push(&mut self, name: &[u8], value: &[u8]) -> NameKind {
        let kind = classify(name);
        self.push_kind(name, value, kind);
        kind
    }

    /// Adds a line already classified.
    pub fn push_kind(&mut self, name: &[u8], value: &[u8], kind: NameKind) {
        let place = |slice: &[u8]| {
            let at = u16::try_from(slice.as_ptr() as usize - self.base).ok()?;
            Some((at, u16::try_from(slice.len()).ok()?))
        };
        // Always both: the parsers refuse heads over 64 KiB before lines are pushed.
        if let (Some((name_at, name_len)), Some((value_at, value_len))) =
            (place(name), place(value))
        {
            self.lines.push(Line {
                name_at,
                name_len,
                value_at,
                value_len,
                kind,
            });
        }
    }

    /// The lines, now pointing into `head` (the buffer the slices came from, frozen).
    pub fn finish(self, head: Bytes) -> RawHeaders {
        RawHeaders {
            head,
            lines: self.lines,
        }
    }
}

impl RawHeaders {
    fn name_of(&self, line: &Line) -> &[u8] {
        let at = line.name_at as usize;
        &self.head[at..at + line.name_len as usize]
    }

    fn value_of(&self, line: &Line) -> &[u8] {
        let at = line.value_at as usize;
        &self.head[at..at + line.value_len as usize]
    }

    /// The number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Every line as `(name as received, value, kind)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8], NameKind)> {
        self.lines
            .iter()
            .map(|line| (self.name_of(line), self.value_of(line), line.kind))
    }

    /// The values of header `name` (any case), in order.
    pub fn get_all<'s, 'n>(
        &'s self,
        name: &'n [u8],
    ) -> impl Iterator<Item = &'s [u8]> + use<'s, 'n> {
        self.lines
            .iter()
            .filter(move |line| self.is_named(line, name))
            .map(|line| self.value_of(line))
    }

    /// The first value of header `name` (any case).
    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.lines
            .iter()
            .find(|line| self.is_named(line, name))
            .map(|line| self.value_of(line))
    }

    /// Whether `line` has the name `name` (any case). Names are most often sent as they are
    /// looked up (lower case), so a plain comparison settles most lines.
    fn is_named(&self, line: &Line, name: &[u8]) -> bool {
        if line.name_len as usize != name.len() {
            return false;
        }
        let received = self.name_of(line);
        received == name || received.eq_ignore_ascii_case(name)
    }

    /// The first value of header `name` (any case), sharing the head's memory.
    pub fn get_shared(&self, name: &[u8]) -> Option<Bytes> {
        self.lines
            .iter()
            .find(|line| self.is_named(line, name))
            .map(|line| {
                let at = line.value_at as usize;
                self.head.slice(at..at + line.value_len as usize)
            })
    }

    /// The first value of the header of `kind` (for kinds other than `Other`).
    pub fn get_kind(&self, kind: NameKind) -> Option<&[u8]> {
        self.lines
            .iter()
            .find(|line| line.kind == kind)
            .map(|line| self.value_of(line))
    }

    /// Whether a line of `kind` is present.
    pub fn has_kind(&self, kind: NameKind) -> bool {
        self.lines.iter().any(|line| line.kind == kind)
    }

    /// Marks the lines whose names `Connection` lists (other than `close` and `keep-alive`) as
    /// hop-by-hop for this message.
    pub fn mark_named_by_connection(&mut self) {
        let mut named: SmallVec<[(usize, usize); 4]> = SmallVec::new();
        for line in self.lines.iter().filter(|l| l.kind == NameKind::Connection) {
            let value = self.value_of(line);
            let base = line.value_at as usize;
            let mut start = 0;
            for token in value.split(|b| *b == b',') {
                let trimmed = token.trim_ascii();
                if !trimmed.is_empty()
                    && !trimmed.eq_ignore_ascii_case(b"close")
                    && !trimmed.eq_ignore_ascii_case(b"keep-alive")
                {
                    let lead = token.len() - token.trim_ascii_start().len();
                    named.push((base + start + lead, trimmed.len()));
                }
                start += token.len() + 1;
            }
        }
        if named.is_empty() {
            return;
        }
        let head = self.head.clone();
        for line in self.lines.iter_mut() {
            if line.kind != NameKind::Other {
                continue;
            }
            let at = line.name_at as usize;
            let name = &head[at..at + line.name_len as usize];
            if named
                .iter()
                .any(|(at, len)| head[*at..*at + *len].eq_ignore_ascii_case(name))
            {
                line.kind = NameKind::NamedByConnection;
            }
        }
    }

    /// Drops the lines for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], NameKind) -> bool) {
        let head = self.head.clone();
        self.lines.retain(|line| {
            let at = line.name_at as usize;
            keep(&head[at..at + line.name_len as usize], line.kind)
        });
    }

    /// The lines as an `http::HeaderMap` (values share the head's memory). Lines `http` cannot
    /// hold (which the parser does not produce) are left out.
    pub fn to_header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.lines.len());
        for line in &self.lines {
            let Ok(name) = HeaderName::from_bytes(self.name_of(line)) else {
                continue;
            };
            let at = line.value_at as usize;
            let bytes = self.head.slice(at..at + line.value_len as usize);
            if let Ok(value) = HeaderValue::from_maybe_shared(bytes) {
                map.append(name, value);
            }
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &'static str) -> RawHeaders {
        let head = Bytes::from_static(text.as_bytes());
        let mut builder = RawHeadersBuilder::new(head.as_ptr(), 4);
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':').unwrap();
            let value = value.trim_start();
            let name_at = name.as_ptr() as usize - head.as_ptr() as usize;
            let value_at = value.as_ptr() as usize - head.as_ptr() as usize;
            builder.push(
                &head[name_at..name_at + name.len()],
                &head[value_at..value_at + value.len()],
            );
        }
        builder.finish(head)
    }

    #[test]
    fn names_are_classified_whatever_their_case() {
        assert_eq!(classify(b"Content-Length"), NameKind::ContentLength);
        assert_eq!(classify(b"TRANSFER-ENCODING"), NameKind::TransferEncoding);
        assert_eq!(classify(b"x-Forwarded-Proto"), NameKind::ForwardedProto);
        assert_eq!(classify(b"Keep-Alive"), NameKind::HopByHop);
        assert_eq!(classify(b"X-Api-Key"), NameKind::Other);
        assert!(classify(b"Upgrade").is_hop_by_hop());
        assert!(!classify(b"Host").is_hop_by_hop());
    }

    #[test]
    fn lookups_ignore_case_and_keep_every_value_in_order() {
        let headers = raw("Host: a\r\nX-Tag: 1\r\nx-tag: 2\r\n");
        assert_eq!(headers.get(b"host"), Some(&b"a"[..]));
        assert_eq!(
            headers.get_all(b"x-tag").collect::<Vec<_>>(),
            [&b"1"[..], &b"2"[..]]
        );
        assert_eq!(headers.get_kind(NameKind::Host), Some(&b"a"[..]));
        let map = headers.to_header_map();
        assert_eq!(map.get_all("x-tag").iter().count(), 2);
    }

    #[test]
    fn headers_named_by_connection_become_hop_by_hop() {
        let mut headers = raw("Connection: close, X-Secret\r\nX-Secret: 1\r\nX-Kept: 2\r\n");
        headers.mark_named_by_connection();
        let kinds: Vec<_> = headers.iter().map(|(_, _, kind)| kind).collect();
        assert_eq!(
            kinds,
            [
                NameKind::Connection,
                NameKind::NamedByConnection,
                NameKind::Other
            ]
        );
    }
}
