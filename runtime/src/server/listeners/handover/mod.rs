//! Handing the listening sockets over to a new meshd, so a binary upgrade or a restart on one
//! host never refuses or resets a connection (like HAProxy's `expose-fd listeners`, or Envoy's
//! hot restart without shared memory).
//!
//! Every meshd started with `--handover-socket PATH` answers on that unix socket. A new meshd
//! started with the same flag connects to it before binding anything and receives the old
//! one's listening sockets (admin and gateways) as file descriptors (`SCM_RIGHTS`): the same
//! sockets, with the same accept queues, so both processes accept from them for a while and
//! nothing queued is lost when the old one closes its copies. Once the new meshd serves, it
//! puts its own socket at PATH and tells the old one, which drains as on SIGTERM.
//!
//! The exchange, one JSON line each way (file descriptors travel beside the bytes that follow
//! the offer):
//! 1. new → old: [`Hello`];
//! 2. old → new: [`Offer`] (or a refusal: the old one's listeners are already closed), then the
//!    sockets, in the offer's order;
//! 3. new → old, once it serves: [`Ready`];
//! 4. old → new: [`Draining`]; the old one then drains.
//!
//! If the new meshd fails before step 3, the old one notices the closed connection and goes on
//! serving as if nothing happened.

pub mod fd_passing;
pub mod give;
pub mod take;

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::inherited::SocketRole;

/// The version of the exchange.
pub const PROTOCOL_VERSION: u32 = 1;

/// How long the old meshd waits for the new one to serve before it gives up on it (the new one
/// may compile a large program first).
pub const READY_PATIENCE: Duration = Duration::from_secs(300);

/// Sockets per `SCM_RIGHTS` message (the kernel takes at most 253).
pub const FDS_PER_MESSAGE: usize = 64;

/// Why a hand-over did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HandoverError {
    /// The socket could not be reached or spoken to.
    #[error("hand-over socket {path}: {source}")]
    Io {
        /// The unix socket.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The other side said something unexpected.
    #[error("hand-over socket {path}: {reason}")]
    Protocol {
        /// The unix socket.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The old meshd refused (its listeners are closed).
    #[error("the meshd at {path} did not hand its listeners over: {reason}")]
    Refused {
        /// The unix socket.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Step 1: the new meshd introduces itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`].
    pub meshd_handover: u32,
    /// The new process.
    pub pid: u32,
}

/// One socket of an [`Offer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedSocket {
    /// What it is for.
    pub role: SocketRole,
    /// The address as the old program wrote it.
    pub configured: String,
    /// Where it is bound.
    pub address: SocketAddr,
}

/// Step 2: the old meshd's sockets (or why there are none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Offer {
    /// [`PROTOCOL_VERSION`].
    pub meshd_handover: u32,
    /// The old process.
    pub pid: u32,
    /// The sockets that follow, in order.
    #[serde(default)]
    pub sockets: Vec<OfferedSocket>,
    /// Why nothing is offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Step 3: the new meshd serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ready {
    /// Always true.
    pub ready: bool,
}

/// Step 4: the old meshd drains.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draining {
    /// Always true.
    pub draining: bool,
    /// The old process.
    pub pid: u32,
}
