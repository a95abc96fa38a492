//! The admin listener: health, readiness, metrics, the bundle's identity and reloads. It runs on
//! the control thread, away from the workers serving traffic.
//!
//! Its callers are probes and scrapers, which ask and go: a connection gets [`HEAD_TIMEOUT`] to
//! send each request's head (and to start it: the first, and the next on a kept-alive connection)
//! and lives at most [`CONNECTION_LIFETIME`] (then closes after the request in flight). The admin
//! port is often reachable from the cluster's network (kubelet probes), and without these bounds
//! any client there could hold connections open for ever.
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
    serve_connections_for(listener, admin, CONNECTION_LIFETIME).await;
}

/// [`serve_admin`], each connection served for at most `lifetime`.
async fn serve_connections_for(
    listener: TcpListener,
    admin: Arc<AdminContext>,
    lifetime: Duration,
) {
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
                () = tokio::time::sleep(lifetime) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use crate::server::drain::DrainState;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An answered connection that stays open (HTTP/1.1 keep-alive; for HTTP/2 the pings would
    /// keep it) is closed once its lifetime is over, well before the head timeout would.
    #[tokio::test]
    async fn a_connection_is_closed_when_its_lifetime_is_over() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let admin = Arc::new(AdminContext {
            state: Arc::default(),
            metrics: Metrics::new(1),
            reloader: std::sync::OnceLock::new(),
            drain: DrainState::new(1),
        });
        tokio::spawn(serve_connections_for(
            listener,
            admin,
            Duration::from_millis(200),
        ));
        let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
        let started = std::time::Instant::now();
        client
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n")
            .await
            .unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        assert!(
            String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200 OK"),
            "{received:?}"
        );
        assert!(
            started.elapsed() < HEAD_TIMEOUT / 2,
            "{:?}",
            started.elapsed()
        );
    }
}
