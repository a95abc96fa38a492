//! The admin endpoints: `/healthz`, `/readyz`, `/metrics`, `/bundle` and `POST /reload`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

use crate::load::remote::{FetchOutcome, FetchSnapshot};
use crate::metrics::Metrics;
use crate::reload::{error_chain, Reloader, StateCell};
use crate::server::drain::DrainState;

/// What the admin endpoints read.
#[derive(Debug)]
pub struct AdminContext {
    /// The state being served.
    pub state: Arc<StateCell>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Reloads (absent until the first load has been attempted).
    pub reloader: std::sync::OnceLock<Arc<Reloader>>,
    /// The drain: `/readyz` answers 503 from its first moment.
    pub drain: Arc<DrainState>,
}

/// Answers one admin request from `peer`.
pub async fn answer<B>(
    request: Request<B>,
    peer: SocketAddr,
    admin: Arc<AdminContext>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "text/plain", "ok\n".into()),
        (&Method::GET, "/readyz") => readiness(&admin),
        (&Method::GET, "/metrics") => text(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            admin.metrics.encode(),
        ),
        (&Method::GET, "/bundle") => bundle(&admin),
        (&Method::POST, "/reload") if !may_act(peer) => json(
            StatusCode::FORBIDDEN,
            json!({"error": "POST /reload is answered only to callers on this host's loopback; send SIGHUP, or call it from inside the host"}),
        ),
        (&Method::POST, "/reload") => reload(&admin).await,
        (_, "/healthz" | "/readyz" | "/metrics" | "/bundle" | "/reload") => json(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "method not allowed"}),
        ),
        _ => json(StatusCode::NOT_FOUND, json!({"error": "not found"})),
    };
    Ok(response)
}

/// Whether `peer` may call what acts (a reload): only from loopback, whatever address the admin
/// listener is bound to. An IPv4 peer on an IPv6 socket arrives as `::ffff:127.0.0.1`.
fn may_act(peer: SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn readiness(admin: &AdminContext) -> Response<Full<Bytes>> {
    if admin.drain.is_draining() {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"ready": false, "reason": "draining"}),
        );
    }
    match admin.state.load() {
        Some(state) => json(
            StatusCode::OK,
            json!({"ready": true, "digest": state.info.digest}),
        ),
        None => json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"ready": false, "reason": "no bundle loaded yet"}),
        ),
    }
}

fn bundle(admin: &AdminContext) -> Response<Full<Bytes>> {
    match admin.state.load() {
        Some(state) => {
            let mut body = json!({
                "digest": state.info.digest,
                "serial": state.info.serial,
                "compiler": state.info.compiler,
                "format_version": state.info.format_version,
                "loaded_at": humantime::format_rfc3339_millis(state.info.loaded_at).to_string(),
                "routes": state.info.routes,
            });
            if let Some(reloader) = admin.reloader.get() {
                body["source"] = reloader.input().describe().into();
                if let Some(remote) = reloader.remote() {
                    body["fetch"] = fetch_json(&remote.status.snapshot());
                }
            }
            json(StatusCode::OK, body)
        }
        None => json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "no bundle loaded yet"}),
        ),
    }
}

/// A bundle URL's status: where, what was served with which validators, how the last poll went.
fn fetch_json(status: &FetchSnapshot) -> serde_json::Value {
    let time = |at: Option<SystemTime>| at.map(|t| humantime::format_rfc3339_millis(t).to_string());
    json!({
        "url": status.url,
        "etag": status.etag,
        "last_modified": status.last_modified,
        "last_fetch_at": time(status.last_fetch_at),
        "last_outcome": status.last_outcome.map(FetchOutcome::as_str),
        "last_error": status.last_error,
        "last_success_at": time(status.last_success_at),
        "consecutive_failures": status.consecutive_failures,
        "next_poll_at": time(status.next_poll_at),
        "serving_cache": status.serving_cache,
        "cache_dir": status.cache_dir,
    })
}

async fn reload(admin: &AdminContext) -> Response<Full<Bytes>> {
    let Some(reloader) = admin.reloader.get() else {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "the first load has not finished"}),
        );
    };
    match reloader.reload("admin").await {
        Ok(outcome) => json(
            StatusCode::OK,
            json!({"digest": outcome.digest, "changed": outcome.changed}),
        ),
        Err(failure) => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": error_chain(&failure), "serving": admin.state.load().map(|s| s.info.digest.clone())}),
        ),
    }
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Full<Bytes>> {
    let mut body = value.to_string();
    body.push('\n');
    text(status, "application/json", body)
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::may_act;

    #[test]
    fn only_loopback_callers_may_reload() {
        for peer in [
            "127.0.0.1:1",
            "127.8.9.10:1",
            "[::1]:1",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(may_act(peer.parse().unwrap()), "{peer}");
        }
        for peer in [
            "10.0.0.7:1",
            "192.168.1.2:1",
            "0.0.0.0:1",
            "[::ffff:10.0.0.7]:1",
            "[fe80::1]:1",
            "[2001:db8::1]:1",
        ] {
            assert!(!may_act(peer.parse().unwrap()), "{peer}");
        }
    }
}
