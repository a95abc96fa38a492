//! The forwarding headers of an upstream request: `X-Forwarded-For` (appended: the client's
//! address is added to what earlier proxies wrote), `X-Forwarded-Proto` and `X-Forwarded-Host`
//! (set: this gateway is the edge, so values sent by the client are replaced). Hop-by-hop
//! headers are left out by the request encoder, which knows each line's kind; response headers
//! lose theirs when the upstream response is parsed
//! ([`crate::forward::http1::response_head`]).
//!
//! The values are computed here and written by the request encoder, so the client's headers are
//! not edited per request.

use std::borrow::Cow;

use http::header::HeaderValue;

use crate::forward::http1::raw_headers::NameKind;
use crate::forward::http1::request_encoder::ForwardedHeaders;
use crate::forward::MessageHeaders;
use crate::server::client_request::ClientRequest;

/// What the gateway knows about the client connection.
#[derive(Debug, Clone)]
pub struct ClientFacts {
    /// The client's IP as a header value (computed once per connection).
    pub ip: HeaderValue,
    /// `http` or `https`.
    pub proto: HeaderValue,
}

/// Computes the forwarding headers: `X-Forwarded-*` from `headers` and `client`, over `host`, how
/// the host goes (from [`host_forwarding`], or a host of the caller's own), whose `host` is also
/// sent as `X-Forwarded-Host`.
pub fn prepare_upstream_headers<'a>(
    headers: &'a MessageHeaders,
    client: &'a ClientFacts,
    host: ForwardedHeaders<'a>,
) -> ForwardedHeaders<'a> {
    let mut earlier: Option<Vec<u8>> = None;
    headers.for_each_line(|_, value, kind| {
        if kind == NameKind::ForwardedFor {
            let joined = earlier.get_or_insert_with(|| Vec::with_capacity(64));
            joined.extend_from_slice(value);
            joined.extend_from_slice(b", ");
        }
    });
    let forwarded_for = match earlier {
        None => Cow::Borrowed(client.ip.as_bytes()),
        Some(mut joined) => {
            joined.extend_from_slice(client.ip.as_bytes());
            Cow::Owned(joined)
        }
    };
    ForwardedHeaders {
        forwarded_for,
        proto: client.proto.as_bytes(),
        ..host
    }
}

/// How `request`'s host goes upstream, and nothing else (a sidecar's hops send no
/// `X-Forwarded-*`: their callers are named by the mesh's own headers): the host its target named,
/// in place of any `Host` line (the host routed and judged by, RFC 9112 §3.2.2), else its `Host`
/// (`headers`, after any edits), else `default_host` (an HTTP/1.0 request that named none;
/// HTTP/1.1 upstream requires one).
pub fn host_forwarding<'a>(
    request: &'a ClientRequest,
    headers: &MessageHeaders,
    default_host: &'a str,
) -> ForwardedHeaders<'a> {
    ForwardedHeaders {
        host: request.authority(),
        add_host: request.target_authority.is_some() || !headers.has_kind(NameKind::Host),
        default_host: Some(default_host.as_bytes()),
        ..ForwardedHeaders::none()
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
        let (parts, ()) = request.into_parts();
        let request = ClientRequest::from_parts(parts);
        let client = client();
        let host = host_forwarding(&request, &request.headers, "crew");
        let forwarded = prepare_upstream_headers(&request.headers, &client, host);
        let mut out = Vec::new();
        encode_head(
            &request.method,
            request.target.as_str(),
            &request.headers,
            BodyFraming::Empty,
            &forwarded,
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn forwarded_for_is_appended_and_proto_and_host_are_set() {
        let text = encoded(
            http::Request::get("/")
                .header("x-forwarded-for", "1.2.3.4")
                .header("x-forwarded-proto", "gopher")
                .header("x-forwarded-host", "evil")
                .header("host", "api.test:8080")
                .header("te", "trailers")
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
        assert!(
            text.starts_with("GET /x HTTP/1.1\r\nhost: api.test\r\n"),
            "{text}"
        );
        assert!(text.contains("x-forwarded-for: 10.0.0.7\r\n"), "{text}");
    }
}
