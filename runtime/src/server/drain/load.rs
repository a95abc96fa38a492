//! Open connections and requests in flight, counted per worker thread so the request path only
//! touches its own worker's cache line; the drain sequence and `/metrics` add the workers up.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::Side;

/// One counter on a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Counter(AtomicI64);

impl Counter {
    fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One worker's counts, by side.
#[derive(Debug, Default)]
pub struct WorkerLoad {
    listeners: [Counter; 2],
    connections: [Counter; 2],
    requests: [Counter; 2],
}

fn index(side: Side) -> usize {
    match side {
        Side::Inbound => 0,
        Side::Outbound => 1,
    }
}

/// The counts of every worker (plus one slot for other threads).
#[derive(Debug)]
pub struct ConnectionLoad {
    workers: Box<[Arc<WorkerLoad>]>,
}

/// The counts added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadTotals {
    /// Inbound listening sockets still open (a drain is not over while one may still take a
    /// connection).
    pub inbound_listeners: u64,
    /// Open inbound client connections.
    pub inbound_connections: u64,
    /// Inbound requests being served.
    pub inbound_requests: u64,
    /// Open outbound (local app) connections.
    pub outbound_connections: u64,
    /// Outbound requests being served.
    pub outbound_requests: u64,
}

impl LoadTotals {
    /// Connections of either side.
    pub fn connections(&self) -> u64 {
        self.inbound_connections + self.outbound_connections
    }

    /// Requests of either side.
    pub fn requests(&self) -> u64 {
        self.inbound_requests + self.outbound_requests
    }
}

impl ConnectionLoad {
    /// Counts for `workers` workers.
    pub fn new(workers: usize) -> Self {
        ConnectionLoad {
            workers: (0..=workers).map(|_| Arc::default()).collect(),
        }
    }

    /// The counts of worker `index` (threads that are not workers share the last slot).
    pub fn worker(&self, index: usize) -> Arc<WorkerLoad> {
        let slot = index.min(self.workers.len() - 1);
        Arc::clone(&self.workers[slot])
    }

    /// Every worker's counts added up.
    pub fn totals(&self) -> LoadTotals {
        let sum = |pick: fn(&WorkerLoad) -> &Counter| {
            let total: i64 = self.workers.iter().map(|w| pick(w).get()).sum();
            u64::try_from(total).unwrap_or(0)
        };
        LoadTotals {
            inbound_listeners: sum(|w| &w.listeners[0]),
            inbound_connections: sum(|w| &w.connections[0]),
            inbound_requests: sum(|w| &w.requests[0]),
            outbound_connections: sum(|w| &w.connections[1]),
            outbound_requests: sum(|w| &w.requests[1]),
        }
    }
}

/// A listening socket, counted as open until dropped (when its worker has closed it).
#[derive(Debug)]
pub struct OpenListener {
    load: Arc<WorkerLoad>,
    side: Side,
}

impl OpenListener {
    /// Counts a listening socket on `side` of the worker owning `load`.
    pub fn new(load: Arc<WorkerLoad>, side: Side) -> Self {
        load.listeners[index(side)].add(1);
        OpenListener { load, side }
    }
}

impl Drop for OpenListener {
    fn drop(&mut self) {
        self.load.listeners[index(self.side)].add(-1);
    }
}

/// An accepted connection, counted as open until dropped (with the task serving it, however
/// that ends).
#[derive(Debug)]
pub struct OpenConnection {
    load: Arc<WorkerLoad>,
    side: Side,
}

impl OpenConnection {
    /// Counts a connection just accepted on `side` by the worker owning `load`.
    pub fn new(load: Arc<WorkerLoad>, side: Side) -> Self {
        load.connections[index(side)].add(1);
        OpenConnection { load, side }
    }

    /// The side of the listener that accepted it.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Counts this connection's requests.
    pub fn requests(&self) -> RequestCounter {
        RequestCounter {
            load: Arc::clone(&self.load),
            side: self.side,
        }
    }
}

/// Counts the requests of one connection (cheap to clone into an HTTP/2 service).
#[derive(Debug, Clone)]
pub struct RequestCounter {
    load: Arc<WorkerLoad>,
    side: Side,
}

impl RequestCounter {
    /// Counts a request as in flight until the guard drops.
    pub fn start(&self) -> RequestInFlight {
        self.load.requests[index(self.side)].add(1);
        RequestInFlight {
            load: Arc::clone(&self.load),
            side: self.side,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.load.connections[index(self.side)].add(-1);
    }
}

/// A request being served: from its complete head to the end of its response.
#[derive(Debug)]
pub struct RequestInFlight {
    load: Arc<WorkerLoad>,
    side: Side,
}

impl Drop for RequestInFlight {
    fn drop(&mut self) {
        self.load.requests[index(self.side)].add(-1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_until_dropped_on_any_worker() {
        let load = ConnectionLoad::new(2);
        let first = OpenConnection::new(load.worker(0), Side::Inbound);
        let second = OpenConnection::new(load.worker(7), Side::Outbound);
        let request = first.requests().start();
        let other = second.requests().start();
        let listener = OpenListener::new(load.worker(1), Side::Inbound);
        assert_eq!(
            load.totals(),
            LoadTotals {
                inbound_listeners: 1,
                inbound_connections: 1,
                inbound_requests: 1,
                outbound_connections: 1,
                outbound_requests: 1,
            }
        );
        drop(request);
        drop(first);
        drop(listener);
        assert_eq!(load.totals().inbound_connections, 0);
        assert_eq!(load.totals().inbound_requests, 0);
        drop((other, second));
        assert_eq!(load.totals(), LoadTotals::default());
    }
}
