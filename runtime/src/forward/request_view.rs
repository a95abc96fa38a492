//! The read-only view of a request that balancing by hash evaluates its CEL expression over.

use std::net::SocketAddr;

use http::{HeaderMap, Method};

/// What `request.*` means when choosing an endpoint.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The method.
    pub method: &'a Method,
    /// The normalized path.
    pub path: &'a str,
    /// The host without port.
    pub host: &'a str,
    /// The raw query string.
    pub query: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The client's address.
    pub remote_addr: SocketAddr,
}
