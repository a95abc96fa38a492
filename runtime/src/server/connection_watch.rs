//! A worker's watch over its client connections, like nginx's per-worker timers: one task per
//! worker wakes a few times per timeout, reads every open connection's [`ConnectionClock`], and
//! closes a connection whose request head has been arriving for longer than the head timeout or
//! that has been idle longer than the idle timeout (an HTTP/2 one is first asked to close
//! gracefully). It passes the drain on: HTTP/2 connections are asked to close (GOAWAY) when the
//! drain begins, idle HTTP/1 ones when their listener closes.
//!
//! Nothing here runs per request, and a connection costs no timer and no task of its own: it
//! joins the watch when accepted and leaves it when its task ends, which frees its memory at once.
//! (A watchdog task per connection either held a closed connection's task until its next wake,
//! hundreds of megabytes under a new connection per request, or, polled beside the connection,
//! cost its timer on every wake of every request.)

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use slab::Slab;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::connection::ConnectionTimeouts;
use super::connection_clock::{ConnectionClock, Verdict};
use super::drain::{DrainPhase, ListenerBehaviour, Side};

/// The connections of one worker.
#[derive(Clone, Default)]
pub struct ConnectionWatch {
    connections: Arc<Mutex<Slab<Watched>>>,
}

/// One watched connection.
struct Watched {
    clock: Arc<ConnectionClock>,
    /// Its task, once spawned: aborted (the connection dropped, so closed) on a timeout.
    task: Option<AbortHandle>,
    head_ms: u64,
    idle_ms: u64,
    side: Side,
    /// The drain asked it to close.
    drain_asked: bool,
    /// It was asked to close for being idle (HTTP/2), and has not been busy since.
    idle_asked: bool,
}

/// A connection's place in the watch; dropping it (when the connection's task ends) leaves.
pub struct Membership {
    connections: Arc<Mutex<Slab<Watched>>>,
    key: usize,
}

impl Membership {
    /// Its key, for [`ConnectionWatch::attach`].
    pub fn key(&self) -> usize {
        self.key
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections.try_remove(self.key);
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl ConnectionWatch {
    /// Watches a new connection by its clock; it leaves when the returned membership is dropped.
    pub fn join(
        &self,
        clock: Arc<ConnectionClock>,
        timeouts: ConnectionTimeouts,
        side: Side,
    ) -> Membership {
        let key = self.lock().insert(Watched {
            clock,
            task: None,
            head_ms: millis(timeouts.head),
            idle_ms: millis(timeouts.idle),
            side,
            drain_asked: false,
            idle_asked: false,
        });
        Membership {
            connections: Arc::clone(&self.connections),
            key,
        }
    }

    /// Gives the watch the task serving the connection of the membership with `key`, to end it
    /// on a timeout.
    pub fn attach(&self, key: usize, task: AbortHandle) {
        if let Some(watched) = self.lock().get_mut(key) {
            watched.task = Some(task);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slab<Watched>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches until the worker stops: every sixth of the shorter timeout (at least 10 ms), and at
    /// once when the drain moves on.
    pub async fn run(self, timeouts: ConnectionTimeouts, mut phase: watch::Receiver<DrainPhase>) {
        let period = (timeouts.head.min(timeouts.idle) / 6).max(Duration::from_millis(10));
        let mut phase_open = true;
        loop {
            let now = *phase.borrow_and_update();
            self.look(now);
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                changed = phase.changed(), if phase_open => phase_open = changed.is_ok(),
            }
        }
    }

    /// One look at every connection.
    fn look(&self, phase: DrainPhase) {
        let mut ended = Vec::new();
        {
            let mut connections = self.lock();
            for (_, watched) in connections.iter_mut() {
                if let Some(task) = watched.look(phase) {
                    ended.push(task);
                }
            }
        }
        // Outside the lock: an ended task leaves the watch as it is dropped.
        for task in ended {
            task.abort();
        }
    }
}

impl Watched {
    /// Passes the drain on and judges the connection's timeouts; the task to end, if any.
    fn look(&mut self, phase: DrainPhase) -> Option<AbortHandle> {
        let clock = &self.clock;
        if !self.drain_asked {
            // An HTTP/2 connection learns it is HTTP/2 after its preface: looked at each time.
            self.drain_asked = match self.side.behaviour(phase) {
                ListenerBehaviour::Serve => false,
                ListenerBehaviour::CloseAfterResponse => clock.is_http2(),
                ListenerBehaviour::Closed => true,
            };
            if self.drain_asked {
                clock.ask_to_close();
            }
        }
        match clock.verdict(self.head_ms, self.idle_ms) {
            Verdict::Fine => self.idle_asked = false,
            Verdict::Idle if clock.is_http2() && !self.idle_asked => {
                clock.ask_to_close();
                self.idle_asked = true;
            }
            Verdict::Idle | Verdict::SlowHead => return self.task.take(),
        }
        None
    }
}
