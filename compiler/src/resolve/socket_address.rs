//! What a `host:port` string means for the checks: which listeners overlap, which listeners are
//! reachable only from this machine, and which endpoints point back at one of our listeners.

use std::net::IpAddr;

/// The host part of an address, as far as the compiler can tell without resolving names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// `0.0.0.0`, `::`, `[::]` or `*`: every local address.
    Wildcard,
    /// `127.0.0.0/8`, `::1` or `localhost` (kept as written, `localhost` as `127.0.0.1`).
    Loopback(String),
    /// Any other address or name, lower-cased.
    Other(String),
}

/// A parsed `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketAddress {
    pub host: Host,
    pub port: u16,
}

impl SocketAddress {
    /// Parses `host:port` (`[v6]:port` for IPv6); `None` when it is not one (the parser has
    /// already reported malformed addresses).
    pub fn parse(text: &str) -> Option<SocketAddress> {
        let (host, port) = text.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_ascii_lowercase();
        let host = match bare.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => Host::Wildcard,
            Ok(ip) if ip.is_loopback() => Host::Loopback(ip.to_string()),
            Ok(ip) => Host::Other(ip.to_string()),
            Err(_) if bare == "*" => Host::Wildcard,
            Err(_) if bare == "localhost" => Host::Loopback("127.0.0.1".to_string()),
            Err(_) => Host::Other(bare),
        };
        Some(SocketAddress { host, port })
    }

    /// True when only this machine can connect.
    pub fn is_loopback(&self) -> bool {
        matches!(self.host, Host::Loopback(_))
    }

    /// True when two listeners cannot both bind: same port, and the same host or a wildcard
    /// (which takes the port on every address). Port 0 asks for a fresh port, so never clashes.
    pub fn clashes_with(&self, other: &SocketAddress) -> bool {
        self.port != 0
            && self.port == other.port
            && (self.host == other.host
                || self.host == Host::Wildcard
                || other.host == Host::Wildcard)
    }

    /// True when a connection to this endpoint certainly lands on `listener` (on this machine):
    /// same port, and the same host, or a loopback endpoint and a wildcard listener.
    pub fn reaches(&self, listener: &SocketAddress) -> bool {
        self.port == listener.port
            && listener.port != 0
            && (self.host == listener.host
                || (self.is_loopback() && listener.host == Host::Wildcard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddress {
        SocketAddress::parse(text).expect("parses")
    }

    #[test]
    fn wildcard_listeners_clash_with_any_host_on_the_same_port() {
        assert!(addr("0.0.0.0:8080").clashes_with(&addr("127.0.0.1:8080")));
        assert!(addr("[::]:8080").clashes_with(&addr("10.0.0.1:8080")));
        assert!(!addr("127.0.0.1:8080").clashes_with(&addr("127.0.0.2:8080")));
        assert!(!addr("0.0.0.0:8080").clashes_with(&addr("0.0.0.0:8081")));
        assert!(!addr("127.0.0.1:0").clashes_with(&addr("127.0.0.1:0")));
        assert!(addr("localhost:80").clashes_with(&addr("127.0.0.1:80")));
    }

    #[test]
    fn loopback_endpoints_reach_wildcard_and_identical_listeners() {
        assert!(addr("127.0.0.1:8080").reaches(&addr("0.0.0.0:8080")));
        assert!(addr("localhost:8080").reaches(&addr("127.0.0.1:8080")));
        assert!(
            !addr("10.0.0.5:8080").reaches(&addr("0.0.0.0:8080")),
            "another machine, as far as we know"
        );
        assert!(!addr("127.0.0.1:9101").reaches(&addr("0.0.0.0:8080")));
    }

    #[test]
    fn loopback_is_127_slash_8_ipv6_one_and_localhost() {
        assert!(
            addr("127.1.2.3:1").is_loopback()
                && addr("[::1]:1").is_loopback()
                && addr("localhost:1").is_loopback()
        );
        assert!(!addr("0.0.0.0:1").is_loopback() && !addr("api.test:1").is_loopback());
    }
}
