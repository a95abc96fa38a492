//! Hop-by-hop header removal (RFC 9110 §7.6.1): these headers describe one connection and must
//! not be forwarded, in either direction; nor may any header a `Connection` header names.

use http::header::{HeaderMap, HeaderName, CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};

/// Headers that are always connection-specific besides those in `http::header` (the list of Go's
/// `httputil.ReverseProxy`, a superset of RFC 9110's).
const ALWAYS: [&str; 4] = [
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Removes the hop-by-hop headers and every header listed in `Connection`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    if let Some(connection) = headers.get(CONNECTION) {
        if !connection.as_bytes().is_empty() {
            let named: Vec<HeaderName> = headers
                .get_all(CONNECTION)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
                .collect();
            for name in named {
                headers.remove(name);
            }
        }
        headers.remove(CONNECTION);
    }
    for name in [TE, TRAILER, TRANSFER_ENCODING, UPGRADE] {
        if headers.contains_key(&name) {
            headers.remove(name);
        }
    }
    for name in ALWAYS {
        if headers.contains_key(name) {
            headers.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn standard_hop_by_hop_headers_are_removed_and_others_kept() {
        let mut headers = HeaderMap::new();
        for name in [
            "connection",
            "keep-alive",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "proxy-connection",
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from_static("x"));
        }
        headers.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-kept"));
    }

    #[test]
    fn headers_named_in_connection_are_removed() {
        let mut headers = HeaderMap::new();
        headers.append(CONNECTION, HeaderValue::from_static("x-secret, X-Other"));
        headers.append(CONNECTION, HeaderValue::from_static("keep-alive"));
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("x-other", HeaderValue::from_static("1"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.keys().collect::<Vec<_>>(), ["x-kept"]);
    }
}
