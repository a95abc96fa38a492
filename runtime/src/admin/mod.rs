//! The admin listener: health, readiness, metrics, the bundle's identity and reloads. It runs on
//! the control thread, away from the workers serving traffic.

pub mod routes;

use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

pub use routes::AdminContext;

/// Serves the admin endpoints on `listener` forever.
pub async fn serve_admin(listener: TcpListener, admin: Arc<AdminContext>) {
    let http = auto::Builder::new(TokioExecutor::new());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let admin = Arc::clone(&admin);
        let http = http.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| routes::answer(request, Arc::clone(&admin)));
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
