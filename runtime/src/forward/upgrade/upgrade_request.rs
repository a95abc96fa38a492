//! Whether a request asks for a protocol upgrade that meshd forwards: HTTP/1.1 with
//! `Connection: upgrade` and an `Upgrade` header (RFC 9110 §7.8). `Upgrade: h2c` is never
//! forwarded: tunnelling cleartext HTTP/2 through a gateway lets a client send requests the
//! gateway never sees (h2c smuggling), so such a request goes on as a plain request with its
//! hop-by-hop headers removed, as Envoy does. HTTP/2 clients cannot ask (their `Connection`
//! headers are malformed); extended CONNECT (RFC 8441) is not offered.

use bytes::Bytes;
use http::Version;

use crate::forward::http1::raw_headers::NameKind;
use crate::forward::MessageHeaders;

/// An upgrade the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeAsk {
    /// The `Upgrade` header's value, passed on as it is (`websocket`).
    pub protocol: Bytes,
}

impl UpgradeAsk {
    /// Whether the protocol asked for is WebSocket.
    pub fn is_websocket(&self) -> bool {
        self.names(b"websocket")
    }

    /// Whether the client listed `protocol` (compared without case) in its `Upgrade`.
    pub fn names(&self, protocol: &[u8]) -> bool {
        list_has(&self.protocol, protocol)
    }
}

/// The tokens of a comma-separated header value, trimmed, empty ones left out.
pub fn list_tokens(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|b| *b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|token| !token.is_empty())
}

/// Whether the comma-separated `list` holds `token`, compared without case.
pub fn list_has(list: &[u8], token: &[u8]) -> bool {
    list_tokens(list).any(|listed| listed.eq_ignore_ascii_case(token))
}

/// The upgrade `headers` ask for, if the request is one meshd forwards as an upgrade.
pub fn upgrade_asked(version: Version, headers: &MessageHeaders) -> Option<UpgradeAsk> {
    if version != Version::HTTP_11 {
        return None;
    }
    let mut connection_upgrade = false;
    let mut protocol: Option<Bytes> = None;
    headers.for_each_line(|name, value, kind| {
        if kind == NameKind::Connection {
            connection_upgrade |= list_has(value, b"upgrade");
        } else if name.eq_ignore_ascii_case(b"upgrade") && protocol.is_none() {
            protocol = Some(Bytes::copy_from_slice(value.trim_ascii()));
        }
    });
    let protocol = protocol.filter(|p| !p.is_empty())?;
    let ask = UpgradeAsk { protocol };
    (connection_upgrade && !ask.names(b"h2c")).then_some(ask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn headers(text: &str) -> MessageHeaders {
        let mut buffer =
            BytesMut::from(format!("GET / HTTP/1.1\r\nHost: x\r\n{text}\r\n").as_str());
        let head = crate::server::http1::request_head::parse_request_head(&mut buffer)
            .unwrap()
            .unwrap();
        MessageHeaders::from_raw(head.headers)
    }

    #[test]
    fn a_websocket_handshake_asks_for_an_upgrade() {
        let ask = upgrade_asked(
            Version::HTTP_11,
            &headers("Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"),
        )
        .unwrap();
        assert!(ask.is_websocket());
        assert_eq!(&ask.protocol[..], b"websocket");
    }

    #[test]
    fn h2c_http10_and_half_asks_are_not_upgrades() {
        let h2c = headers("Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n");
        assert_eq!(upgrade_asked(Version::HTTP_11, &h2c), None);
        let ws = headers("Connection: upgrade\r\nUpgrade: websocket\r\n");
        assert_eq!(upgrade_asked(Version::HTTP_10, &ws), None);
        let no_connection = headers("Upgrade: websocket\r\n");
        assert_eq!(upgrade_asked(Version::HTTP_11, &no_connection), None);
        let no_upgrade = headers("Connection: upgrade\r\n");
        assert_eq!(upgrade_asked(Version::HTTP_11, &no_upgrade), None);
    }
}
