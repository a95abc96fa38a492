//! Binding listeners (the gateways', a sidecar's): one socket per worker on the same address with
//! `SO_REUSEPORT`, so the kernel spreads connections over workers like nginx's workers, with no
//! shared accept queue. Port 0 is resolved by the first bind and reused by the others.
//!
//! Sockets handed over by the meshd this one replaces ([`handover`]) are used first: the same
//! sockets, with the connections already queued on them, so an upgrade refuses nothing.

pub mod handover;
pub mod inherited;
pub mod syn_gate;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};

use super::drain::Side;
use super::listener_role::ListenerRole;
use crate::state::RuntimeState;

pub use inherited::{InheritedSockets, SocketRole};

/// Why a listener cannot be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The address does not parse or resolve.
    #[error("gateway `{gateway}`: listener address {address} does not resolve")]
    Unresolvable {
        /// The gateway.
        gateway: String,
        /// The address as written.
        address: String,
    },
    /// The socket cannot be bound.
    #[error("gateway `{gateway}`: cannot listen on {address}")]
    Io {
        /// The gateway.
        gateway: String,
        /// The address.
        address: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One listener, bound once per worker.
#[derive(Debug)]
pub struct BoundListener {
    /// What it serves.
    pub role: ListenerRole,
    /// Whose it is: the gateway's or the sidecar's service's name.
    pub name: String,
    /// The bound address (port 0 resolved).
    pub address: SocketAddr,
    /// Whether connections start with a TLS handshake.
    pub tls: bool,
    /// Whose traffic it takes, which decides how it drains.
    pub side: Side,
    /// The address as the program writes it (a hand-over matches listeners by it).
    pub configured: String,
    /// One socket per worker (or more, when more were handed over).
    pub sockets: Vec<TcpListener>,
}

/// Binds `address` (written `configured`) once per worker, taking handed-over sockets for the
/// same address first; port 0 is resolved by the first bind and reused.
pub fn bind_sockets(
    configured: &str,
    mut address: SocketAddr,
    workers: usize,
    inherited: &mut InheritedSockets,
) -> std::io::Result<(SocketAddr, Vec<TcpListener>)> {
    let mut sockets = inherited.take_gateway(configured, address);
    if let Some(first) = sockets.first() {
        address = first.local_addr()?;
    }
    while sockets.len() < workers.max(1) {
        let socket = reuse_port_listener(address)?;
        address = socket.local_addr()?;
        sockets.push(socket);
    }
    Ok((address, sockets))
}

/// Binds every listener of every gateway, `workers` times, taking handed-over sockets for the
/// same address first.
pub fn bind_listeners(
    state: &RuntimeState,
    workers: usize,
    inherited: &mut InheritedSockets,
) -> Result<Vec<BoundListener>, BindError> {
    let mut bound = Vec::new();
    for (g, gateway) in state.gateways.iter().enumerate() {
        for (l, listener) in gateway.listeners.iter().enumerate() {
            let io = |source| BindError::Io {
                gateway: gateway.name.to_string(),
                address: listener.address.clone(),
                source,
            };
            let address = listener
                .address
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| BindError::Unresolvable {
                    gateway: gateway.name.to_string(),
                    address: listener.address.clone(),
                })?;
            let (address, sockets) =
                bind_sockets(&listener.address, address, workers, inherited).map_err(io)?;
            let tls = listener.tls.is_some();
            bound.push(BoundListener {
                role: ListenerRole::Gateway {
                    gateway: g,
                    listener: l,
                    tls,
                },
                name: gateway.name.to_string(),
                address,
                tls,
                side: Side::Inbound,
                configured: listener.address.clone(),
                sockets,
            });
        }
    }
    Ok(bound)
}

/// A non-blocking listening socket with `SO_REUSEADDR` and `SO_REUSEPORT`.
pub fn reuse_port_listener(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&address.into())?;
    socket.listen(4096)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
