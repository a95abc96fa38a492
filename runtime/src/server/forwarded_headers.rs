//! The forwarding headers of an upstream request: hop-by-hop headers removed, and
//! `X-Forwarded-For` (appended: the client's address is added to what earlier proxies wrote),
//! `X-Forwarded-Proto` and `X-Forwarded-Host` (set: this gateway is the edge, so values sent by
//! the client are replaced). Response headers lose their hop-by-hop headers when the upstream
//! response is parsed ([`crate::forward::http1::response_head`]).
//!
//! The values are computed here and written by the request encoder, so the client's header map is
//! not rehashed three times per request.

use http::header::{HeaderMap, HeaderValue, HOST};

use crate::forward::hop_by_hop::remove_hop_by_hop;
use crate::forward::http1::request_encoder::ForwardedHeaders;

/// What the gateway knows about the client connection.
#[derive(Debug, Clone)]
pub struct ClientFacts {
    /// The client's IP as a header value (computed once per connection).
    pub ip: HeaderValue,
    /// `http` or `https`.
    pub proto: HeaderValue,
}

/// Removes hop-by-hop headers and computes the forwarding headers. `authority` is the host the
/// client addressed (the `Host` header, or the HTTP/2 `:authority`), sent as `Host` when missing.
pub fn prepare_upstream_headers(
    headers: &mut HeaderMap,
    client: &ClientFacts,
    authority: Option<HeaderValue>,
) -> ForwardedHeaders {
    remove_hop_by_hop(headers);
    let forwarded_for = match headers.get(ForwardedHeaders::FOR) {
        Some(earlier) => {
            let mut joined = Vec::with_capacity(earlier.len() + 2 + client.ip.len());
            joined.extend_from_slice(earlier.as_bytes());
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(client.ip.as_bytes());
            HeaderValue::from_bytes(&joined).unwrap_or_else(|_| client.ip.clone())
        }
        None => client.ip.clone(),
    };
    let add_host = !headers.contains_key(HOST);
    ForwardedHeaders {
        forwarded_for,
        proto: client.proto.clone(),
        host: authority,
        add_host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::http1::request_encoder::{encode_head, BodyFraming};

    fn client() -> ClientFacts {
        ClientFacts {
            ip: HeaderValue::from_static("10.0.0.7"),
            proto: HeaderValue::from_static("https"),
        }
    }

    fn encoded(request: http::Request<()>) -> String {
        let (mut parts, ()) = request.into_parts();
        let authority = parts.headers.get(HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .map(|a| HeaderValue::from_str(a.as_str()).unwrap())
        });
        let forwarded = prepare_upstream_headers(&mut parts.headers, &client(), authority);
        let mut out = Vec::new();
        encode_head(&parts, BodyFraming::Empty, &forwarded, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn forwarded_for_is_appended_and_proto_and_host_are_set() {
        let text = encoded(
            http::Request::get("/")
                .header("x-forwarded-for", "1.2.3.4")
                .header("x-forwarded-proto", "gopher")
                .header("x-forwarded-host", "evil")
                .header(HOST, "api.test:8080")
                .body(())
                .unwrap(),
        );
        assert_eq!(
            text,
            "GET / HTTP/1.1\r\nhost: api.test:8080\r\nx-forwarded-for: 1.2.3.4, 10.0.0.7\r\nx-forwarded-proto: https\r\nx-forwarded-host: api.test:8080\r\n\r\n"
        );
    }

    #[test]
    fn an_http2_authority_becomes_the_host_header() {
        let text = encoded(http::Request::get("https://api.test/x").body(()).unwrap());
        assert!(text.contains("\r\nhost: api.test\r\n"), "{text}");
        assert!(text.contains("x-forwarded-for: 10.0.0.7\r\n"), "{text}");
    }
}
