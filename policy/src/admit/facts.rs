//! What admission knows about one request: borrowed from the server's request, never copied.

use std::net::{IpAddr, SocketAddr};

use http::Method;

use super::request_headers::RequestHeaders;

/// One request as admission and request CEL see it. The server fills it from its request head
/// and the matcher's captures; every field borrows.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The path, without the query.
    pub path: &'a str,
    /// The raw query string without `?`, if any.
    pub query: Option<&'a str>,
    /// The host without port (from `Host` or `:authority`), if any.
    pub host: Option<&'a str>,
    /// The request headers (HTTP/1 lines as received, or a map).
    pub headers: RequestHeaders<'a>,
    /// The peer of the TCP connection. `X-Forwarded-For` is never trusted for admission.
    pub remote: SocketAddr,
    /// Path template parameters captured by the matcher, in template order.
    pub params: &'a [(&'a str, &'a str)],
    /// The declared body length (`Content-Length`, or the body's exact size hint), if known.
    pub content_length: Option<u64>,
    /// The whole body, when the server has buffered it (needed only for `request.body` in CEL).
    pub body: Option<&'a [u8]>,
}

impl<'a> RequestFacts<'a> {
    /// Facts with no query, host, params or body; `content_length` is read from `headers`.
    pub fn new(
        method: &'a Method,
        path: &'a str,
        headers: impl Into<RequestHeaders<'a>>,
        remote: SocketAddr,
    ) -> Self {
        let headers = headers.into();
        let content_length = headers
            .get_str(&http::header::CONTENT_LENGTH)
            .and_then(|v| v.trim().parse().ok());
        RequestFacts {
            method,
            path,
            query: None,
            host: None,
            headers,
            remote,
            params: &[],
            content_length,
            body: None,
        }
    }

    /// The same facts with a query string.
    pub fn with_query(mut self, query: Option<&'a str>) -> Self {
        self.query = query;
        self
    }

    /// The same facts with a host.
    pub fn with_host(mut self, host: Option<&'a str>) -> Self {
        self.host = host;
        self
    }

    /// The same facts with path parameters.
    pub fn with_params(mut self, params: &'a [(&'a str, &'a str)]) -> Self {
        self.params = params;
        self
    }

    /// The same facts with a buffered body.
    pub fn with_body(mut self, body: Option<&'a [u8]>) -> Self {
        self.body = body;
        self
    }

    /// The client address used by IP rules and per-IP limits: the socket peer, with an
    /// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) seen as the IPv4 address it carries.
    pub fn client_ip(&self) -> IpAddr {
        match self.remote.ip() {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        }
    }

    /// The host CEL sees: the given host, else the `Host` header without its port, else `""`.
    pub fn host_or_header(&self) -> &'a str {
        if let Some(host) = self.host {
            return host;
        }
        let header = self.headers.get_str(&http::header::HOST).unwrap_or("");
        strip_port(header)
    }
}

/// `host:port` → `host`; `[v6]:port` → `[v6]`.
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    #[test]
    fn content_length_is_read_from_the_header() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_LENGTH, "42".parse().unwrap());
        let facts = RequestFacts::new(&Method::POST, "/", &headers, "127.0.0.1:1".parse().unwrap());
        assert_eq!(facts.content_length, Some(42));
    }

    #[test]
    fn ipv4_mapped_peer_is_seen_as_ipv4() {
        let headers = HeaderMap::new();
        let facts = RequestFacts::new(
            &Method::GET,
            "/",
            &headers,
            "[::ffff:10.1.2.3]:80".parse().unwrap(),
        );
        assert_eq!(facts.client_ip(), "10.1.2.3".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn host_falls_back_to_the_header_without_port() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::HOST,
            "api.starfleet.test:8080".parse().unwrap(),
        );
        let facts = RequestFacts::new(&Method::GET, "/", &headers, "127.0.0.1:1".parse().unwrap());
        assert_eq!(facts.host_or_header(), "api.starfleet.test");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("example"), "example");
    }
}
