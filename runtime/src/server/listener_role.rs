//! What a listener serves. Every role runs on the same connection layer (workers, accept loop,
//! HTTP/1.1 and HTTP/2, timeouts): a gateway listener admits outside clients through its routes,
//! a sidecar's inbound listener takes calls from the mesh over mutual TLS, and its outbound
//! listener takes the local app's calls into the mesh.

use std::sync::Arc;

use crate::mesh::inbound::InboundSide;
use crate::mesh::outbound::OutboundSide;
use crate::mesh::tcp_outbound::TcpOutboundSide;

/// The role of one listener.
#[derive(Debug, Clone)]
pub enum ListenerRole {
    /// A gateway's listener.
    Gateway {
        /// The gateway's index in the state (stable across reloads, which cannot change listeners).
        gateway: usize,
        /// The listener's index in the gateway.
        listener: usize,
        /// Whether connections start with a TLS handshake (the gateway's certificate).
        tls: bool,
    },
    /// A sidecar's inbound listener: mutual TLS in, the mesh decides, the local app answers.
    MeshInbound(Arc<InboundSide>),
    /// A sidecar's outbound listener: the local app's calls, named by `Host`, out over mTLS.
    MeshOutbound(Arc<OutboundSide>),
    /// A sidecar's listener for one tcp service (`--tcp`): the app's connections, piped over mTLS.
    MeshTcpOutbound(Arc<TcpOutboundSide>),
}

impl ListenerRole {
    /// How the role is named in logs: `gateway`, `inbound`, `outbound` or `tcp-outbound`.
    pub fn kind(&self) -> &'static str {
        match self {
            ListenerRole::Gateway { .. } => "gateway",
            ListenerRole::MeshInbound(_) => "inbound",
            ListenerRole::MeshOutbound(_) => "outbound",
            ListenerRole::MeshTcpOutbound(_) => "tcp-outbound",
        }
    }
}
