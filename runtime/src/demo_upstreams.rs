//! `--demo-upstreams`: small HTTP servers on every loopback endpoint of the bundle's services, so
//! an example runs with nothing else installed. Each answers every request with 200 and a JSON
//! body naming the service, the endpoint and what it received (health checks pass too).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Request, Response};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::state::RuntimeState;

/// Starts a demo server on each loopback endpoint that is free; returns the addresses served.
/// An endpoint already in use is skipped with a warning (something real may be there).
pub fn start_demo_upstreams(
    state: &RuntimeState,
    runtime: &tokio::runtime::Handle,
) -> Vec<SocketAddr> {
    let mut names: Vec<(&String, &Arc<crate::forward::ServiceState>)> =
        state.services.iter().collect();
    names.sort_by(|a, b| a.0.cmp(b.0));
    let mut started = Vec::new();
    for (name, service) in names {
        for endpoint in &service.endpoints {
            let address = endpoint.socket_addr;
            if !address.ip().is_loopback() || started.contains(&address) {
                continue;
            }
            let socket = match std::net::TcpListener::bind(address).and_then(|s| {
                s.set_nonblocking(true)?;
                Ok(s)
            }) {
                Ok(socket) => socket,
                Err(error) => {
                    tracing::warn!(service = %name, endpoint = %address, %error, "demo upstream not started");
                    continue;
                }
            };
            let label = Arc::new((name.clone(), endpoint.address.to_string()));
            let _guard = runtime.enter();
            match TcpListener::from_std(socket) {
                Ok(listener) => {
                    runtime.spawn(serve_demo(listener, label));
                    tracing::info!(service = %name, endpoint = %address, "demo upstream listening");
                    started.push(address);
                }
                Err(error) => {
                    tracing::warn!(service = %name, endpoint = %address, %error, "demo upstream not started")
                }
            }
        }
    }
    started
}

async fn serve_demo(listener: TcpListener, label: Arc<(String, String)>) {
    let http = auto::Builder::new(TokioExecutor::new());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let label = Arc::clone(&label);
        let http = http.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let label = Arc::clone(&label);
                async move {
                    let body = serde_json::json!({
                        "service": label.0,
                        "endpoint": label.1,
                        "method": request.method().as_str(),
                        "path": request.uri().path(),
                    });
                    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
                    response
                        .headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
