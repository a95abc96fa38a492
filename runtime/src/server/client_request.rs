//! A client's request as the request path sees it, whichever protocol brought it: the method,
//! the target, and the headers (kept as received lines for HTTP/1, which admission and request
//! CEL read in place).

use std::sync::OnceLock;

use http::request::Parts;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, Method, Version};

use crate::admit::RequestHeaders;
use crate::forward::http1::raw_headers::NameKind;
use crate::forward::MessageHeaders;

/// One request head.
#[derive(Debug)]
pub struct ClientRequest {
    /// The method.
    pub method: Method,
    /// The protocol version the client spoke.
    pub version: Version,
    /// The target's path and query, as sent (not normalized).
    pub target: PathAndQuery,
    /// The authority the target names (HTTP/1 absolute form, HTTP/2 `:authority`).
    pub target_authority: Option<Authority>,
    /// The headers.
    pub headers: MessageHeaders,
    header_map: OnceLock<HeaderMap>,
}

impl ClientRequest {
    /// A request head.
    pub fn new(
        method: Method,
        version: Version,
        target: PathAndQuery,
        target_authority: Option<Authority>,
        headers: MessageHeaders,
    ) -> Self {
        ClientRequest {
            method,
            version,
            target,
            target_authority,
            headers,
            header_map: OnceLock::new(),
        }
    }

    /// The head of a request hyper parsed (HTTP/2).
    pub fn from_parts(parts: Parts) -> Self {
        let target = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let authority = parts.uri.authority().cloned();
        ClientRequest::new(
            parts.method,
            parts.version,
            target,
            authority,
            MessageHeaders::from_map(parts.headers),
        )
    }

    /// The path, as sent.
    pub fn path(&self) -> &str {
        self.target.path()
    }

    /// The query string without `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.target.query()
    }

    /// The host the client addressed, with its port if it gave one: the target's authority
    /// (RFC 9112 §3.2.2, RFC 9113 §8.3.1), else the `Host` header.
    pub fn authority(&self) -> Option<&[u8]> {
        if let Some(authority) = &self.target_authority {
            return Some(authority.as_str().as_bytes());
        }
        if self.headers.raw().is_empty() {
            return self
                .headers
                .own()
                .get(http::header::HOST)
                .map(|v| v.as_bytes());
        }
        self.headers.raw().get_kind(NameKind::Host)
    }

    /// The host without its port, or `""` when the client named none.
    pub fn host(&self) -> &str {
        self.authority()
            .and_then(|a| std::str::from_utf8(a).ok())
            .map_or("", host_without_port)
    }

    /// The headers as admission and request CEL read them: HTTP/1 lines in place, else the
    /// map. (A request's headers are either received lines or a map, until the gateway edits a
    /// copy for the upstream; should both ever be present, a merged map is built once.)
    pub fn header_view(&self) -> RequestHeaders<'_> {
        let raw = self.headers.raw();
        if raw.is_empty() {
            return RequestHeaders::Map(self.headers.own());
        }
        if self.headers.is_as_received() {
            return RequestHeaders::Lines(raw);
        }
        RequestHeaders::Map(self.header_map.get_or_init(|| self.headers.to_header_map()))
    }

    /// The headers as one map, built once on first use: what a produce route's envelope and
    /// record headers read (the forward path never needs it).
    pub fn header_map(&self) -> &HeaderMap {
        if self.headers.raw().is_empty() {
            return self.headers.own();
        }
        self.header_map.get_or_init(|| self.headers.to_header_map())
    }
}

/// `host[:port]` or `[v6]:port` without the port.
pub fn host_without_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.bytes().position(|b| b == b':') {
        Some(colon) => &authority[..colon],
        None => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn ports_are_dropped_from_hosts_including_ipv6() {
        assert_eq!(host_without_port("api.test:8080"), "api.test");
        assert_eq!(host_without_port("api.test"), "api.test");
        assert_eq!(host_without_port("[::1]:8080"), "::1");
    }

    #[test]
    fn the_target_authority_wins_over_the_host_header() {
        let (mut parts, ()) = http::Request::get("http://named.test:81/a?b=1")
            .body(())
            .unwrap()
            .into_parts();
        parts
            .headers
            .insert(http::header::HOST, HeaderValue::from_static("other"));
        let request = ClientRequest::from_parts(parts);
        assert_eq!(request.host(), "named.test");
        assert_eq!(request.path(), "/a");
        assert_eq!(request.query(), Some("b=1"));
        assert_eq!(
            request.header_view().get(&http::header::HOST),
            Some(&b"other"[..])
        );
    }
}
