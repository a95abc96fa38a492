//! An upstream's `101 Switching Protocols` on its way to the client: the upstream connection
//! (with any bytes it sent after the head), the route's place among its open tunnels, and the
//! idle timeout; and the 101 head as the client gets it.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use super::upgrade_gate::UpgradePermit;
use crate::forward::endpoint::Lease;
use crate::forward::http1::raw_headers::{classify, NameKind};
use crate::forward::http1::UpstreamConn;
use crate::forward::MessageHeaders;

/// The upstream side of a tunnel, carried in the response body until the server switches.
#[derive(Debug)]
pub struct Switched {
    /// The upstream connection; its read buffer holds what the upstream sent after its 101.
    pub upstream: UpstreamConn,
    /// The protocol the upstream switched to (its `Upgrade` header).
    pub protocol: Bytes,
    /// Keeps the endpoint counted in flight (least-request balancing) while the tunnel is open.
    pub lease: Lease,
    /// The route's place among its open tunnels.
    pub permit: UpgradePermit,
    /// Closes the tunnel when no byte moves either way for this long.
    pub idle: Duration,
}

/// The upstream's 101 headers to pass on: all but the hop-by-hop ones, which describe the
/// upstream connection (`Upgrade` and `Connection` are written afresh by
/// [`encode_switch_head`]), and `Content-Length` / `Transfer-Encoding`, which a 101 must not
/// carry.
pub fn passed_on(headers: &[httparse::Header<'_>]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for header in headers {
        let kind = classify(header.name.as_bytes());
        if kind.is_hop_by_hop() || kind == NameKind::ContentLength {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(header.name.as_bytes()),
            http::HeaderValue::from_bytes(header.value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// Writes the 101 head for the client into `out`: the upstream's headers (with the gateway's
/// response header rules applied), then `Connection: upgrade` and the `Upgrade` the upstream
/// chose.
pub fn encode_switch_head(out: &mut Vec<u8>, headers: &MessageHeaders, protocol: &[u8]) {
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
    headers.for_each_line(|name, value, kind| {
        if kind.is_hop_by_hop() || kind == NameKind::ContentLength {
            return;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    });
    out.extend_from_slice(b"connection: upgrade\r\nupgrade: ");
    out.extend_from_slice(protocol);
    out.extend_from_slice(b"\r\n\r\n");
}
