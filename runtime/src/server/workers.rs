//! Worker threads: one single-threaded tokio runtime per worker (per core by default), each with
//! its own `SO_REUSEPORT` socket per listener, its own upstream connections and its own counters,
//! like nginx's worker processes. Nothing on the request path crosses threads except the state
//! `Arc` and the atomics of balancing and outlier detection.

use std::net::TcpListener as StdListener;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::forward::worker_slot::enter_worker;

use super::connection::{serve_connection, ConnectionTimeouts, ListenerContext};
use super::connection_clock::{ConnectionClock, Verdict};
use super::listeners::BoundListener;
use super::request_handler::Shared;

/// Starts `workers` threads serving `listeners` until `shutdown` turns true; a client that takes
/// longer than `timeouts.head` to send a request head, or stays idle longer than
/// `timeouts.idle`, is disconnected.
pub fn spawn_workers(
    listeners: Vec<BoundListener>,
    shared: &Arc<Shared>,
    workers: usize,
    timeouts: ConnectionTimeouts,
    shutdown: &watch::Receiver<bool>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let mut per_worker: Vec<Vec<(Arc<ListenerContext>, StdListener)>> =
        (0..workers).map(|_| Vec::new()).collect();
    for bound in listeners {
        let context = Arc::new(ListenerContext::new(
            Arc::clone(shared),
            bound.role,
            timeouts,
        ));
        for (worker, socket) in bound.sockets.into_iter().enumerate() {
            per_worker[worker % workers].push((Arc::clone(&context), socket));
        }
    }
    let mut threads = Vec::with_capacity(workers);
    for (index, sockets) in per_worker.into_iter().enumerate() {
        let shutdown = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name(format!("meshd-worker-{index}"))
            .spawn(move || run_worker(index, sockets, shutdown))?;
        threads.push(thread);
    }
    Ok(threads)
}

fn run_worker(
    index: usize,
    sockets: Vec<(Arc<ListenerContext>, StdListener)>,
    mut shutdown: watch::Receiver<bool>,
) {
    enter_worker(index);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(worker = index, %error, "cannot start a worker runtime");
            return;
        }
    };
    runtime.block_on(async move {
        for (context, socket) in sockets {
            match TcpListener::from_std(socket) {
                Ok(listener) => {
                    tokio::spawn(accept_loop(listener, context));
                }
                Err(error) => tracing::error!(worker = index, %error, "cannot register a listener"),
            }
        }
        while !*shutdown.borrow_and_update() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
    });
}

async fn accept_loop(listener: TcpListener, context: Arc<ListenerContext>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let clock = Arc::new(ConnectionClock::new());
                let watched = Arc::downgrade(&clock);
                let connection =
                    tokio::spawn(serve_connection(stream, Arc::clone(&context), clock));
                tokio::spawn(watchdog(
                    watched,
                    connection.abort_handle(),
                    context.timeouts,
                ));
            }
            Err(error) => {
                // Out of file descriptors and the like: back off briefly instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Closes a connection whose request head has been arriving for longer than the head timeout,
/// or that has been idle longer than the idle timeout (an HTTP/2 one is first asked to close
/// gracefully). It wakes a few times per timeout, not per request, and ends with the connection
/// (when its clock goes).
async fn watchdog(
    clock: Weak<ConnectionClock>,
    connection: tokio::task::AbortHandle,
    timeouts: ConnectionTimeouts,
) {
    let period = (timeouts.head.min(timeouts.idle) / 6).max(Duration::from_millis(10));
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let (head_ms, idle_ms) = (millis(timeouts.head), millis(timeouts.idle));
    let mut asked_to_close = false;
    loop {
        tokio::time::sleep(period).await;
        let Some(clock) = clock.upgrade() else {
            return;
        };
        match clock.verdict(head_ms, idle_ms) {
            Verdict::Fine => asked_to_close = false,
            Verdict::Idle if clock.is_http2() && !asked_to_close => {
                clock.ask_to_close();
                asked_to_close = true;
            }
            Verdict::Idle | Verdict::SlowHead => {
                connection.abort();
                return;
            }
        }
    }
}
