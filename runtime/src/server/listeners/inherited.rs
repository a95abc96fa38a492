//! Listening sockets received from the meshd this one replaces, waiting to be matched to this
//! program's listeners: by the address as written (`127.0.0.1:0` matches the socket the old
//! process bound for `127.0.0.1:0`), or by the bound address.

use std::net::{SocketAddr, TcpListener};

/// What a listening socket is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SocketRole {
    /// The admin listener.
    Admin,
    /// A gateway listener (one of the sockets of its `SO_REUSEPORT` group).
    Gateway,
}

/// One received socket.
#[derive(Debug)]
pub struct InheritedSocket {
    /// What it was for.
    pub role: SocketRole,
    /// Its address as the old program wrote it.
    pub configured: String,
    /// Where it is bound.
    pub address: SocketAddr,
    /// The socket.
    pub socket: TcpListener,
}

/// The sockets not yet taken. Those left over when start-up is done are closed (the old process
/// still holds them until it has drained).
#[derive(Debug, Default)]
pub struct InheritedSockets {
    sockets: Vec<InheritedSocket>,
}

impl InheritedSockets {
    /// Nothing inherited: every socket is bound afresh.
    pub fn none() -> Self {
        InheritedSockets::default()
    }

    /// The sockets received.
    pub fn new(sockets: Vec<InheritedSocket>) -> Self {
        InheritedSockets { sockets }
    }

    /// How many are left.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// Whether none is left.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// Takes every socket of `role` for the listener written `configured` (resolved to
    /// `resolved`): the old process's whole group for that address.
    fn take(
        &mut self,
        role: SocketRole,
        configured: &str,
        resolved: SocketAddr,
    ) -> Vec<TcpListener> {
        let matches = |socket: &InheritedSocket| {
            socket.role == role
                && (socket.configured == configured
                    || (resolved.port() != 0 && socket.address == resolved))
        };
        let Some(group) = self.sockets.iter().find(|s| matches(s)).map(|s| s.address) else {
            return Vec::new();
        };
        let (taken, left): (Vec<_>, Vec<_>) = std::mem::take(&mut self.sockets)
            .into_iter()
            .partition(|s| matches(s) && s.address == group);
        self.sockets = left;
        taken.into_iter().map(|s| s.socket).collect()
    }

    /// The sockets of a gateway listener's group.
    pub fn take_gateway(&mut self, configured: &str, resolved: SocketAddr) -> Vec<TcpListener> {
        self.take(SocketRole::Gateway, configured, resolved)
    }

    /// The admin listener, if the old process listened where this one is told to.
    pub fn take_admin(&mut self, configured: &str) -> Option<TcpListener> {
        let resolved = configured
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        self.take(SocketRole::Admin, configured, resolved).pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(role: SocketRole, configured: &str) -> InheritedSocket {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        InheritedSocket {
            role,
            configured: configured.to_string(),
            address: socket.local_addr().unwrap(),
            socket,
        }
    }

    #[test]
    fn a_listener_takes_the_whole_group_of_its_written_address_or_its_bound_one() {
        let first = socket(SocketRole::Gateway, "127.0.0.1:0");
        let group = first.address;
        let mut second = socket(SocketRole::Gateway, "127.0.0.1:0");
        second.address = group;
        let other = socket(SocketRole::Gateway, "127.0.0.1:9");
        let other_address = other.address;
        let admin = socket(SocketRole::Admin, "127.0.0.1:0");
        let mut inherited = InheritedSockets::new(vec![first, other, second, admin]);

        assert_eq!(inherited.take_gateway("127.0.0.1:0", group).len(), 2);
        assert!(inherited.take_gateway("127.0.0.1:0", group).is_empty());
        assert_eq!(
            inherited.take_gateway("localhost:1", other_address).len(),
            1,
            "matched by bound address"
        );
        assert!(inherited.take_admin("127.0.0.1:1").is_none());
        assert!(inherited.take_admin("127.0.0.1:0").is_some());
        assert!(inherited.is_empty());
    }
}
