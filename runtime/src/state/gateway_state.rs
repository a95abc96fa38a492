//! A gateway as the runtime holds it: its listeners' TLS settings, its route table and routes.

use std::sync::Arc;

use meshwork_bundle::matcher::RouteTable;
use meshwork_bundle::{MethodMismatch, Tracing};
use tokio_rustls::rustls::ServerConfig;

use crate::admit::GatewayAdmission;
use crate::metrics::RouteId;

use super::route_state::RouteState;

/// One gateway, compiled.
#[derive(Debug)]
pub struct GatewayState {
    /// The gateway's name.
    pub name: Arc<str>,
    /// The identity it presents when it calls into the mesh, if it has one.
    pub identity: Option<String>,
    /// Its listeners, in bundle order.
    pub listeners: Vec<ListenerState>,
    /// The matcher over its routes.
    pub table: RouteTable,
    /// Its routes, in precedence order (indexes of `table`).
    pub routes: Vec<RouteState>,
    /// Its routes' admission (indexes of `table`), sharing one consumer directory.
    pub admission: GatewayAdmission,
    /// The counters' id for requests that matched no route.
    pub unmatched_metric_id: RouteId,
    /// What to answer when a route would match but for the method (404 unless `method_mismatch 405`).
    pub method_mismatch: MethodMismatch,
    /// Its part in W3C trace context (`tracing { … }`); `None`: `traceparent` passes untouched.
    pub tracing: Option<Tracing>,
}

/// One listener's settings that may change on reload (its address may not).
#[derive(Debug)]
pub struct ListenerState {
    /// `host:port` as written.
    pub address: String,
    /// The TLS configuration, for TLS listeners.
    pub tls: Option<Arc<ServerConfig>>,
}
