//! Worker threads: one single-threaded tokio runtime per worker (per core by default), each with
//! its own `SO_REUSEPORT` socket per listener, its own upstream connections and its own counters,
//! like nginx's worker processes. Nothing on the request path crosses threads except the state
//! `Arc` and the atomics of balancing and outlier detection.
//!
//! Workers follow the drain ([`super::drain`]): an inbound listener closes when the drain delay
//! is over, after taking the connections the kernel has already queued for it; each
//! worker's [`ConnectionWatch`] tells each connection when to close.

use std::net::TcpListener as StdListener;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::forward::worker_slot::enter_worker;

use super::connection::{serve_connection, ConnectionTimeouts, ListenerContext};
use super::connection_clock::ConnectionClock;
use super::connection_watch::ConnectionWatch;
use super::drain::{DrainState, ListenerBehaviour, OpenConnection, OpenListener, WorkerLoad};
use super::listeners::{syn_gate, BoundListener};
use super::request_handler::Shared;

/// Starts `workers` threads serving `listeners` until `shutdown` turns true, following `drain`;
/// a client that takes longer than `timeouts.head` to send a request head, or stays idle longer
/// than `timeouts.idle`, is disconnected.
pub fn spawn_workers(
    listeners: Vec<BoundListener>,
    shared: &Arc<Shared>,
    workers: usize,
    timeouts: ConnectionTimeouts,
    http2_max_streams: u32,
    drain: &Arc<DrainState>,
    shutdown: &watch::Receiver<bool>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let workers = workers.max(1);
    let mut per_worker: Vec<Vec<WorkerSocket>> = (0..workers).map(|_| Vec::new()).collect();
    for bound in listeners {
        let context = Arc::new(ListenerContext::new(
            Arc::clone(shared),
            bound.role,
            timeouts,
            Arc::clone(drain),
            bound.side,
            http2_max_streams,
        ));
        for (worker, socket) in bound.sockets.into_iter().enumerate() {
            let worker = worker % workers;
            // Counted from now on, so a drain that starts at once still waits for it to close.
            let open = OpenListener::new(drain.load().worker(worker), bound.side);
            per_worker[worker].push(WorkerSocket {
                context: Arc::clone(&context),
                socket,
                open,
            });
        }
    }
    let mut threads = Vec::with_capacity(workers);
    for (index, sockets) in per_worker.into_iter().enumerate() {
        let shutdown = shutdown.clone();
        let load = drain.load().worker(index);
        let thread = std::thread::Builder::new()
            .name(format!("meshd-worker-{index}"))
            .spawn(move || run_worker(index, sockets, load, shutdown))?;
        threads.push(thread);
    }
    Ok(threads)
}

/// A listening socket given to a worker, counted as open until the worker closes it.
struct WorkerSocket {
    context: Arc<ListenerContext>,
    socket: StdListener,
    open: OpenListener,
}

fn run_worker(
    index: usize,
    sockets: Vec<WorkerSocket>,
    load: Arc<WorkerLoad>,
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
        let watch = ConnectionWatch::default();
        if let Some(first) = sockets.first() {
            // Every listener has the process's connection timeouts and drain.
            let context = &first.context;
            tokio::spawn(watch.clone().run(context.timeouts, context.drain.watch()));
        }
        for WorkerSocket {
            context,
            socket,
            open,
        } in sockets
        {
            match TcpListener::from_std(socket) {
                Ok(listener) => {
                    let watch = watch.clone();
                    tokio::spawn(accept_loop(
                        listener,
                        context,
                        Arc::clone(&load),
                        open,
                        watch,
                    ));
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

async fn accept_loop(
    listener: TcpListener,
    context: Arc<ListenerContext>,
    load: Arc<WorkerLoad>,
    open: OpenListener,
    watch: ConnectionWatch,
) {
    let mut phase = context.drain.watch();
    let side = context.side;
    loop {
        let accepted = tokio::select! {
            biased;
            accepted = listener.accept() => accepted,
            _ = phase.wait_for(|p| side.behaviour(*p) == ListenerBehaviour::Closed) => break,
        };
        match accepted {
            Ok((stream, _)) => start_connection(stream, &context, &load, &watch),
            Err(error) => {
                // Out of file descriptors and the like: back off briefly instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    // A handed-over socket, or one another process listens beside, closes ungated (syn_gate).
    let alone = || {
        listener
            .local_addr()
            .is_ok_and(|address| !syn_gate::others_listen_on(address))
    };
    if !syn_gate::is_shared() && alone() {
        take_handshakes_under_way(&listener, &context, &load, &watch).await;
    }
    close_listener(listener, &context, &load, &watch);
    drop(open);
}

/// How long a closing listener, new SYNs dropped, still takes the handshakes begun before.
const HANDSHAKE_GRACE: Duration = Duration::from_millis(100);

/// Drops new SYNs on `listener` ([`syn_gate`]), then, for [`HANDSHAKE_GRACE`], serves the
/// handshakes begun before the gate closed: they still complete into the queue (an RTT inside a
/// datacenter, with room to spare).
async fn take_handshakes_under_way(
    listener: &TcpListener,
    context: &Arc<ListenerContext>,
    load: &Arc<WorkerLoad>,
    watch: &ConnectionWatch,
) {
    if let Err(error) = syn_gate::close_gate(listener.as_fd()) {
        tracing::warn!(%error, "cannot stop new connections before closing a listener");
        return;
    }
    let grace = tokio::time::sleep(HANDSHAKE_GRACE);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            biased;
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => start_connection(stream, context, load, watch),
                Err(_) => return,
            },
            () = &mut grace => return,
        }
    }
}

/// Takes every connection the kernel has already queued on the socket, then closes it. Linux
/// resets the connections left in the accept queue of a closed socket, even when other
/// `SO_REUSEPORT` sockets listen on the same port, so the caller first drops new SYNs
/// ([`syn_gate`], unless the socket was handed over or another process listens beside it) and
/// takes the handshakes under way, and the queue is emptied in the same breath as the close;
/// handed-over sockets stay open in the process that took them, and lose nothing.
fn close_listener(
    listener: TcpListener,
    context: &Arc<ListenerContext>,
    load: &Arc<WorkerLoad>,
    watch: &ConnectionWatch,
) {
    let Ok(listener) = listener.into_std() else {
        return;
    };
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let stream = stream
                    .set_nonblocking(true)
                    .and_then(|()| TcpStream::from_std(stream));
                match stream {
                    Ok(stream) => start_connection(stream, context, load, watch),
                    Err(error) => tracing::warn!(%error, "cannot serve a queued connection"),
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(error) => {
                tracing::warn!(%error, "accept failed while closing a listener");
                break;
            }
        }
    }
}

/// Serves an accepted connection in a task of its own, watched by the worker's
/// [`ConnectionWatch`] until the task ends.
fn start_connection(
    stream: TcpStream,
    context: &Arc<ListenerContext>,
    load: &Arc<WorkerLoad>,
    watch: &ConnectionWatch,
) {
    let open = OpenConnection::new(Arc::clone(load), context.side);
    let clock = Arc::new(ConnectionClock::new());
    let membership = watch.join(Arc::clone(&clock), context.timeouts, context.side);
    let key = membership.key();
    let serve = serve_connection(stream, Arc::clone(context), clock, open);
    let task = tokio::spawn(async move {
        serve.await;
        drop(membership);
    });
    // The task has not run yet (this worker's runtime has one thread, busy here).
    watch.attach(key, task.abort_handle());
}
