//! Preparing request headers for the upstream and response headers for the client: hop-by-hop
//! headers removed both ways, and `X-Forwarded-For` (appended: the client's address is added to
//! what earlier proxies wrote), `X-Forwarded-Proto` and `X-Forwarded-Host` (set: this gateway is
//! the edge, so values sent by the client are replaced).

use http::header::{HeaderMap, HeaderName, HeaderValue, HOST};

use crate::forward::hop_by_hop::remove_hop_by_hop;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// What the gateway knows about the client connection.
#[derive(Debug, Clone)]
pub struct ClientFacts {
    /// The client's IP as a header value (computed once per connection).
    pub ip: HeaderValue,
    /// `http` or `https`.
    pub proto: HeaderValue,
}

/// Rewrites request headers for the upstream. `authority` is the host the client addressed
/// (the `Host` header, or the HTTP/2 `:authority`), written to `Host` when missing.
pub fn prepare_upstream_headers(
    headers: &mut HeaderMap,
    client: &ClientFacts,
    authority: Option<&HeaderValue>,
) {
    remove_hop_by_hop(headers);
    let forwarded_for = match headers.get(&X_FORWARDED_FOR) {
        Some(earlier) => {
            let mut joined = Vec::with_capacity(earlier.len() + 2 + client.ip.len());
            joined.extend_from_slice(earlier.as_bytes());
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(client.ip.as_bytes());
            HeaderValue::from_bytes(&joined).unwrap_or_else(|_| client.ip.clone())
        }
        None => client.ip.clone(),
    };
    headers.insert(X_FORWARDED_FOR.clone(), forwarded_for);
    headers.insert(X_FORWARDED_PROTO.clone(), client.proto.clone());
    match authority {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST.clone(), host.clone());
            if !headers.contains_key(HOST) {
                headers.insert(HOST, host.clone());
            }
        }
        None => {
            headers.remove(&X_FORWARDED_HOST);
        }
    }
}

/// Rewrites upstream response headers for the client.
pub fn prepare_client_headers(headers: &mut HeaderMap) {
    remove_hop_by_hop(headers);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ClientFacts {
        ClientFacts {
            ip: HeaderValue::from_static("10.0.0.7"),
            proto: HeaderValue::from_static("https"),
        }
    }

    #[test]
    fn forwarded_for_is_appended_and_proto_and_host_are_set() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("gopher"));
        headers.insert(HOST, HeaderValue::from_static("api.test:8080"));
        let host = headers.get(HOST).cloned();
        prepare_upstream_headers(&mut headers, &client(), host.as_ref());
        assert_eq!(headers["x-forwarded-for"], "1.2.3.4, 10.0.0.7");
        assert_eq!(headers["x-forwarded-proto"], "https");
        assert_eq!(headers["x-forwarded-host"], "api.test:8080");
        assert_eq!(headers[HOST], "api.test:8080");
    }

    #[test]
    fn an_http2_authority_becomes_the_host_header() {
        let mut headers = HeaderMap::new();
        let authority = HeaderValue::from_static("api.test");
        prepare_upstream_headers(&mut headers, &client(), Some(&authority));
        assert_eq!(headers[HOST], "api.test");
        assert_eq!(headers["x-forwarded-for"], "10.0.0.7");
    }
}
