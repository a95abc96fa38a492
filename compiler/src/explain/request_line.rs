//! The request `meshc explain` is asked about: `"GET http://api.starfleet.test/officers/7?x=1"`
//! (or `"GET /officers/7"`) plus `--header name:value` options.

use thiserror::Error;

/// A request to explain, split into what routing looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainRequest {
    pub method: String,
    /// The host without port, empty when the request line has none.
    pub host: String,
    /// The port given in the URL, if any.
    pub port: Option<u16>,
    /// The path as written (not yet normalized).
    pub path: String,
    /// The query string without `?`.
    pub query: String,
    /// `(name, value)` pairs.
    pub headers: Vec<(String, String)>,
}

/// Why a request line or header option cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestLineError {
    #[error("expected \"METHOD URL\", e.g. \"GET http://api.starfleet.test/officers/7\"")]
    Shape,
    #[error("`{0}` is not an HTTP method (methods are upper-case tokens such as GET)")]
    Method(String),
    #[error("`{0}` is not a port")]
    Port(String),
    #[error("header `{0}` is not `name:value`")]
    Header(String),
}

impl ExplainRequest {
    /// Parses `"METHOD URL"` and `name:value` headers. A `Host` header supplies the host when the
    /// URL has none.
    pub fn parse(line: &str, headers: &[String]) -> Result<ExplainRequest, RequestLineError> {
        let mut parts = line.split_whitespace();
        let (Some(method), Some(url), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(RequestLineError::Shape);
        };
        if !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(RequestLineError::Method(method.to_string()));
        }
        let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let (authority, target) = if url.contains("://") {
            match without_scheme.find(['/', '?']) {
                Some(i) => (&without_scheme[..i], &without_scheme[i..]),
                None => (without_scheme, "/"),
            }
        } else {
            ("", url)
        };
        let target = target.split('#').next().unwrap_or("");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let path = if path.is_empty() { "/" } else { path };
        let (mut host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
                h.to_string(),
                Some(
                    p.parse::<u16>()
                        .map_err(|_| RequestLineError::Port(p.to_string()))?,
                ),
            ),
            _ => (authority.to_string(), None),
        };
        let mut pairs = Vec::new();
        for header in headers {
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| RequestLineError::Header(header.clone()))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(RequestLineError::Header(header.clone()));
            }
            if host.is_empty() && name.eq_ignore_ascii_case("host") {
                host = value.trim().split(':').next().unwrap_or("").to_string();
            }
            pairs.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        Ok(ExplainRequest {
            method: method.to_string(),
            host,
            port,
            path: path.to_string(),
            query: query.to_string(),
            headers: pairs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_url_gives_host_port_path_and_query() {
        let r = ExplainRequest::parse(
            "GET http://api.starfleet.test:8080/officers/7?full=1",
            &["X-Api-Key: k".to_string()],
        )
        .expect("parses");
        assert_eq!(
            (
                r.method.as_str(),
                r.host.as_str(),
                r.port,
                r.path.as_str(),
                r.query.as_str()
            ),
            (
                "GET",
                "api.starfleet.test",
                Some(8080),
                "/officers/7",
                "full=1"
            )
        );
        assert_eq!(r.headers, [("x-api-key".to_string(), "k".to_string())]);
    }

    #[test]
    fn a_bare_path_takes_its_host_from_the_host_header() {
        let r = ExplainRequest::parse("POST /log", &["host: bridge.test:80".to_string()])
            .expect("parses");
        assert_eq!((r.host.as_str(), r.path.as_str()), ("bridge.test", "/log"));
        assert_eq!(
            ExplainRequest::parse("GET http://h", &[])
                .expect("parses")
                .path,
            "/"
        );
    }

    #[test]
    fn malformed_lines_and_headers_are_refused() {
        assert_eq!(
            ExplainRequest::parse("GET", &[]),
            Err(RequestLineError::Shape)
        );
        assert!(matches!(
            ExplainRequest::parse("get /", &[]),
            Err(RequestLineError::Method(_))
        ));
        assert!(matches!(
            ExplainRequest::parse("GET http://h:port/", &[]),
            Err(RequestLineError::Port(_))
        ));
        assert!(matches!(
            ExplainRequest::parse("GET /", &["nocolon".to_string()]),
            Err(RequestLineError::Header(_))
        ));
    }
}
