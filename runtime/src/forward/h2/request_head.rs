//! The request head for an HTTP/2 upstream, read back from the HTTP/1 head the forward stage
//! encoded (hop-by-hop headers already left out, forwarding headers already set): `Host` becomes
//! the `:authority`, framing headers HTTP/2 forbids are dropped, and a gRPC call gets
//! `te: trailers` back (the encoder drops `TE` as hop-by-hop; gRPC requires it end to end).

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST, TE};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Method, Uri};

/// Headers a request head may carry before it is read with a larger table.
const USUAL_HEADERS: usize = 64;
/// The most headers read (the encoder writes what the client sent, which the server bounded).
const MAX_HEADERS: usize = 1024;

/// An HTTP/2 request head.
#[derive(Debug, Clone)]
pub struct H2Head {
    /// The method.
    pub method: Method,
    /// The full URI (scheme, authority, path and query).
    pub uri: Uri,
    /// The regular headers.
    pub headers: HeaderMap,
    /// Whether the request is a gRPC call (`content-type: application/grpc…`).
    pub grpc: bool,
}

/// Why a head could not be read back (an encoder bug, never a client's doing).
#[derive(Debug, thiserror::Error)]
#[error("the request head cannot be sent over HTTP/2: {0}")]
pub struct HeadError(String);

/// Reads `encoded` (an HTTP/1 request head) for an HTTP/2 upstream reached over `scheme`;
/// `fallback` is the authority when the head has no `Host`.
pub fn h2_head(encoded: &[u8], scheme: Scheme, fallback: &str) -> Result<H2Head, HeadError> {
    let mut table = vec![httparse::EMPTY_HEADER; USUAL_HEADERS];
    loop {
        let mut request = httparse::Request::new(&mut table);
        match request.parse(encoded) {
            Ok(httparse::Status::Complete(_)) => return from_parsed(&request, scheme, fallback),
            Err(httparse::Error::TooManyHeaders) if request.headers.len() < MAX_HEADERS => {}
            Ok(httparse::Status::Partial) => return Err(HeadError("incomplete head".into())),
            Err(error) => return Err(HeadError(error.to_string())),
        }
        let larger = table.len() * 4;
        table = vec![httparse::EMPTY_HEADER; larger];
    }
}

fn from_parsed(
    request: &httparse::Request<'_, '_>,
    scheme: Scheme,
    fallback: &str,
) -> Result<H2Head, HeadError> {
    let bad = |what: &str| HeadError(what.to_string());
    let method = Method::from_bytes(request.method.unwrap_or("GET").as_bytes())
        .map_err(|_| bad("method"))?;
    let mut headers = HeaderMap::with_capacity(request.headers.len() + 1);
    let mut authority = None;
    for header in request.headers.iter() {
        let name =
            HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| bad("header name"))?;
        if name == HOST {
            authority = Some(header.value);
            continue;
        }
        if forbidden_in_http2(&name) {
            continue;
        }
        let value = HeaderValue::from_bytes(header.value).map_err(|_| bad("header value"))?;
        headers.append(name, value);
    }
    let authority = match authority {
        Some(host) => Authority::try_from(host).map_err(|_| bad("host"))?,
        None => Authority::try_from(fallback).map_err(|_| bad("endpoint authority"))?,
    };
    let path = PathAndQuery::try_from(request.path.unwrap_or("/")).map_err(|_| bad("path"))?;
    let uri = Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(path)
        .build()
        .map_err(|_| bad("uri"))?;
    let grpc = headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    if grpc {
        headers.insert(TE, HeaderValue::from_static("trailers"));
    }
    Ok(H2Head {
        method,
        uri,
        headers,
        grpc,
    })
}

/// Connection-specific headers RFC 9113 §8.2.2 forbids (the encoder writes `transfer-encoding`
/// for a body of unknown length; HTTP/2 frames it itself).
fn forbidden_in_http2(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "transfer-encoding" | "connection" | "keep-alive" | "proxy-connection" | "upgrade" | "te"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_becomes_the_authority_and_framing_is_dropped() {
        let encoded = b"POST /starfleet.Log/Append?x=1 HTTP/1.1\r\nhost: api.test:8080\r\ncontent-type: application/grpc\r\ntransfer-encoding: chunked\r\nx-forwarded-for: 1.2.3.4\r\n\r\n";
        let head = h2_head(encoded, Scheme::HTTP, "127.0.0.1:1").unwrap();
        assert_eq!(head.method, Method::POST);
        assert_eq!(
            head.uri.to_string(),
            "http://api.test:8080/starfleet.Log/Append?x=1"
        );
        assert!(head.grpc);
        assert_eq!(head.headers.get("te").unwrap(), "trailers");
        assert!(head.headers.get("transfer-encoding").is_none());
        assert!(head.headers.get("host").is_none());
        assert_eq!(head.headers.get("x-forwarded-for").unwrap(), "1.2.3.4");
    }

    #[test]
    fn a_head_without_host_uses_the_endpoint_and_many_headers_are_read() {
        let mut encoded = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..200 {
            encoded.extend_from_slice(format!("x-h{i}: {i}\r\n").as_bytes());
        }
        encoded.extend_from_slice(b"\r\n");
        let head = h2_head(&encoded, Scheme::HTTPS, "127.0.0.1:9").unwrap();
        assert_eq!(head.uri.to_string(), "https://127.0.0.1:9/");
        assert_eq!(head.headers.len(), 200);
        assert!(!head.grpc);
    }
}
