//! `--demo-upstreams`: small HTTP apps so an example runs with nothing else installed. Each
//! answers every request with 200 and a JSON body naming the service, the endpoint and what it
//! received, including who called it when a sidecar stands in front (`source`, `client_cert`:
//! the headers the sidecar sets from the verified caller). An app beside a sidecar also calls
//! other services through it: `/call/SERVICE/PATH` sends the same method to `PATH` of `SERVICE`
//! through the sidecar's outbound listener and answers with what came back, and `/tcp/SERVICE`
//! sends the body to a `protocol tcp` service through the sidecar ([`crate::demo_tcp`], which
//! also has the tcp services' own apps).
//!
//! Without a mesh (no `trust_domain`) the apps listen on the services' loopback endpoints
//! themselves; with one, [`crate::mesh::demo_mesh`] puts a sidecar on each endpoint and the app
//! beside it.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, HOST};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::demo_tcp::{serve_demo_line_app, tcp_call, tcp_target};
use crate::state::RuntimeState;

/// One demo app: whose it is, and the sidecar it calls other services through.
#[derive(Debug, Clone)]
pub struct DemoApp {
    /// The service.
    pub service: String,
    /// The endpoint it stands for.
    pub endpoint: String,
    /// Its sidecar's outbound listener (`/call/…` is answered 404 without one).
    pub outbound: Option<SocketAddr>,
    /// Its sidecar's `--tcp` listeners, by tcp service (`/tcp/SERVICE`).
    pub tcp: Vec<(String, SocketAddr)>,
}

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
            let served = if service.tcp {
                serve_demo_line_app(socket, name, &endpoint.address, runtime)
            } else {
                let app = DemoApp {
                    service: name.clone(),
                    endpoint: endpoint.address.to_string(),
                    outbound: None,
                    tcp: Vec::new(),
                };
                serve_demo_app(socket, app, runtime)
            };
            match served {
                Ok(()) => {
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

/// Serves `app` on `socket` (non-blocking) on `runtime`.
pub fn serve_demo_app(
    socket: std::net::TcpListener,
    app: DemoApp,
    runtime: &tokio::runtime::Handle,
) -> std::io::Result<()> {
    let _guard = runtime.enter();
    let listener = TcpListener::from_std(socket)?;
    runtime.spawn(serve_demo(listener, Arc::new(app)));
    Ok(())
}

async fn serve_demo(listener: TcpListener, app: Arc<DemoApp>) {
    let http = auto::Builder::new(TokioExecutor::new());
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (app, http, client) = (Arc::clone(&app), http.clone(), client.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let (app, client) = (Arc::clone(&app), client.clone());
                async move {
                    let path = request.uri().path();
                    let response = if let Some(service) = tcp_target(path).map(str::to_string) {
                        match request.into_body().collect().await {
                            Ok(body) => tcp_call(&app, &service, body.to_bytes()).await,
                            Err(_) => unreadable_body(),
                        }
                    } else if let Some((service, path)) = call_target(path) {
                        call(&app, &client, request, service, path).await
                    } else {
                        echo(&app, &request)
                    };
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// `/call/SERVICE/REST` → (`SERVICE`, `/REST`).
fn call_target(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/call/")?;
    let (service, tail) = rest.split_once('/').unwrap_or((rest, ""));
    (!service.is_empty()).then(|| (service.to_string(), format!("/{tail}")))
}

/// A JSON answer of the demo apps.
pub fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The JSON echo: who answered, what it received, and who called (as its sidecar says).
fn echo(app: &DemoApp, request: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    json(
        StatusCode::OK,
        serde_json::json!({
            "service": app.service,
            "endpoint": app.endpoint,
            "method": request.method().as_str(),
            "path": request.uri().path(),
            "source": header("x-meshwork-source"),
            "client_cert": header("x-forwarded-client-cert"),
        }),
    )
}

fn unreadable_body() -> Response<Full<Bytes>> {
    json(
        StatusCode::BAD_REQUEST,
        serde_json::json!({"error": "the request body could not be read"}),
    )
}

/// Calls `service` through the sidecar's outbound listener and answers with its response.
async fn call(
    app: &DemoApp,
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    request: Request<hyper::body::Incoming>,
    service: String,
    path: String,
) -> Response<Full<Bytes>> {
    let Some(outbound) = app.outbound else {
        return json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "this demo app has no sidecar to call through"}),
        );
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return unreadable_body();
    };
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let uri = format!("http://{outbound}{path}{query}");
    let mut outgoing = Request::new(Full::new(body));
    *outgoing.method_mut() = parts.method;
    *outgoing.uri_mut() = match uri.parse() {
        Ok(uri) => uri,
        Err(_) => {
            return json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": "not a path"}),
            )
        }
    };
    if let Ok(host) = HeaderValue::from_str(&service) {
        outgoing.headers_mut().insert(HOST, host);
    }
    match client.request(outgoing).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Response::from_parts(parts, Full::new(bytes))
        }
        Err(error) => json(
            StatusCode::BAD_GATEWAY,
            serde_json::json!({"error": format!("the sidecar did not answer: {error}")}),
        ),
    }
}
