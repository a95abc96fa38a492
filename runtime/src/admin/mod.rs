//! The admin listener: health, readiness, metrics, the bundle's identity and reloads. It runs on
//! the control thread, away from the workers serving traffic.
//!
//! Its callers are probes and scrapers, which ask and go: a connection gets [`HEAD_TIMEOUT`] to
//! send each request's head (and to start it: the first, and the next on a kept-alive connection)
//! and lives at most [`CONNECTION_LIFETIME`] (then closes after the request in flight). The admin port is often reachable from the cluster's network (kubelet
//! probes), and without these bounds any client there could hold connections open for ever.
//! For the same reason `POST /reload`, the one call that acts, is answered only to loopback
//! callers (as Linkerd's proxy answers `/shutdown`); the reads are answered to anyone.

pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::http2_settings::{PING_INTERVAL, PING_TIMEOUT};

pub use routes::AdminContext;

/// How long a client may take to send a request's head, and to start the next one on a kept-alive
/// connection.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one connection is served; long enough for a scraper to reuse it across scrapes.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);

/// Serves the admin endpoints on `listener` forever.
pub async fn serve_admin(listener: TcpListener, admin: Arc<AdminContext>) {
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT);
    http.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_TIMEOUT);
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let admin = Arc::clone(&admin);
        let http = http.clone();
        tokio::spawn(async move {
            // hyper times a head from its first byte; a client that sends none is timed here.
            let mut first = [0u8; 1];
            match tokio::time::timeout(HEAD_TIMEOUT, stream.peek(&mut first)).await {
                Ok(Ok(read)) if read > 0 => {}
                _ => return,
            }
            let service =
                service_fn(move |request| routes::answer(request, peer, Arc::clone(&admin)));
            let connection = http.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = tokio::time::sleep(CONNECTION_LIFETIME) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
}
