//! Draining: how a server made of listeners stops without dropping a request. Every role of
//! meshd (the gateway, a sidecar) is listeners, worker threads and connections; they all watch
//! one [`DrainState`] and behave by the side their listener serves ([`Side`]).
//!
//! The phases, in order ([`DrainPhase`]):
//! 1. **Draining** (at the signal): `/readyz` answers 503 so load balancers stop sending; inbound
//!    listeners keep accepting (a load balancer that has not noticed yet still gets answers);
//!    every HTTP/1 response carries `Connection: close` and its connection ends after it; HTTP/2
//!    connections get GOAWAY and end once their streams are done.
//! 2. **Closing** (after the drain delay): inbound listeners take what the kernel has already
//!    queued and close; idle inbound connections close; requests in flight run on.
//! 3. **Cutting** (at the drain timeout, or a second signal): whatever is left is counted and
//!    dropped.
//!
//! Outbound listeners (a sidecar's loopback listener for its own app) ignore the first two
//! phases: the app, finishing its own requests during shutdown, can still call other services.
//! The drain ends when inbound has nothing left and the app has closed its outbound connections
//! (it has stopped), or at the timeout.

pub mod load;
pub mod metrics;
pub mod sequence;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

pub use load::{
    ConnectionLoad, LoadTotals, OpenConnection, OpenListener, RequestCounter, RequestInFlight,
    WorkerLoad,
};
pub use metrics::DrainCollector;
pub use sequence::{run_drain, DrainHooks, DrainPlan, DrainReport};

/// Where a drain stands. Phases only move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DrainPhase {
    /// Serving normally.
    Serving,
    /// Told to stop; inbound listeners still accept, responses close their connections.
    Draining,
    /// Inbound listeners are closed and idle inbound connections too; requests finish.
    Closing,
    /// The timeout passed: what is left is cut.
    Cutting,
}

/// Which way a listener's traffic flows, which decides how it drains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Clients from outside (the gateway, a sidecar's inbound): drained as the phases say.
    Inbound,
    /// The local app calling out through a sidecar: served as usual until the app stops.
    Outbound,
}

impl Side {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Inbound => "inbound",
            Side::Outbound => "outbound",
        }
    }

    /// How a listener on this side behaves in `phase`.
    pub fn behaviour(self, phase: DrainPhase) -> ListenerBehaviour {
        match (self, phase) {
            (_, DrainPhase::Serving) | (Side::Outbound, DrainPhase::Draining) => {
                ListenerBehaviour::Serve
            }
            (Side::Outbound, DrainPhase::Closing) => ListenerBehaviour::Serve,
            (Side::Inbound, DrainPhase::Draining) => ListenerBehaviour::CloseAfterResponse,
            (Side::Inbound, DrainPhase::Closing) | (_, DrainPhase::Cutting) => {
                ListenerBehaviour::Closed
            }
        }
    }
}

/// What a listener and its connections do in a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerBehaviour {
    /// Accept, keep connections alive.
    Serve,
    /// Accept, but end each connection after its response (HTTP/1) or with GOAWAY (HTTP/2).
    CloseAfterResponse,
    /// Accept no more; close idle connections.
    Closed,
}

/// The drain state of one meshd process, shared by its listeners, connections and admin.
#[derive(Debug)]
pub struct DrainState {
    phase: watch::Sender<DrainPhase>,
    /// Set with the first phase change: read on every HTTP/1 response.
    draining: AtomicBool,
    load: ConnectionLoad,
}

impl DrainState {
    /// A serving state for `workers` worker threads.
    pub fn new(workers: usize) -> Arc<Self> {
        Arc::new(DrainState {
            phase: watch::Sender::new(DrainPhase::Serving),
            draining: AtomicBool::new(false),
            load: ConnectionLoad::new(workers),
        })
    }

    /// Whether a drain has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// The current phase.
    pub fn phase(&self) -> DrainPhase {
        *self.phase.borrow()
    }

    /// Follows the phase (listeners and each worker's connection watch hold one each).
    pub fn watch(&self) -> watch::Receiver<DrainPhase> {
        self.phase.subscribe()
    }

    /// Moves to `phase` (never back).
    pub fn advance(&self, phase: DrainPhase) {
        if phase > DrainPhase::Serving {
            self.draining.store(true, Ordering::Relaxed);
        }
        self.phase.send_if_modified(|current| {
            if phase > *current {
                *current = phase;
                true
            } else {
                false
            }
        });
    }

    /// The per-worker counts of connections and requests.
    pub fn load(&self) -> &ConnectionLoad {
        &self.load
    }
}

/// What one connection needs of the drain: to count its requests, and to know whether its
/// responses may keep it alive.
#[derive(Debug)]
pub struct ConnectionDrain<'a> {
    state: &'a DrainState,
    requests: RequestCounter,
    side: Side,
}

impl<'a> ConnectionDrain<'a> {
    /// The drain as seen by the connection `open` (of a listener on `state`).
    pub fn new(state: &'a DrainState, open: &OpenConnection) -> Self {
        ConnectionDrain {
            state,
            requests: open.requests(),
            side: open.side(),
        }
    }

    /// Counts the connection's requests.
    pub fn requests(&self) -> &RequestCounter {
        &self.requests
    }

    /// Whether a response may leave the connection open: not on an inbound connection once a
    /// drain has begun (HTTP/1 sends `Connection: close`).
    pub fn keep_alive(&self) -> bool {
        self.side == Side::Outbound || !self.state.is_draining()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_closes_after_the_delay_and_outbound_serves_until_the_cut() {
        use DrainPhase::*;
        use ListenerBehaviour::*;
        let inbound: Vec<_> = [Serving, Draining, Closing, Cutting]
            .map(|phase| Side::Inbound.behaviour(phase))
            .into();
        assert_eq!(inbound, [Serve, CloseAfterResponse, Closed, Closed]);
        let outbound: Vec<_> = [Serving, Draining, Closing, Cutting]
            .map(|phase| Side::Outbound.behaviour(phase))
            .into();
        assert_eq!(outbound, [Serve, Serve, Serve, Closed]);
    }

    #[test]
    fn only_inbound_responses_close_their_connection_once_draining() {
        let state = DrainState::new(1);
        let inbound = OpenConnection::new(state.load().worker(0), Side::Inbound);
        let outbound = OpenConnection::new(state.load().worker(0), Side::Outbound);
        assert!(ConnectionDrain::new(&state, &inbound).keep_alive());
        state.advance(DrainPhase::Draining);
        assert!(!ConnectionDrain::new(&state, &inbound).keep_alive());
        assert!(ConnectionDrain::new(&state, &outbound).keep_alive());
        // Phases never go back.
        state.advance(DrainPhase::Serving);
        assert_eq!(state.phase(), DrainPhase::Draining);
    }
}
