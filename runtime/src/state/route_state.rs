//! A route as the runtime holds it: its compiled action (its admission is in the gateway's
//! [`crate::admit::GatewayAdmission`], at the same index).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use crate::forward::fault_injection::FaultInjection;
use crate::forward::ForwardPlan;
use crate::metrics::RouteId;
use crate::stream::ProduceRoute;

/// One route, compiled.
#[derive(Debug)]
pub struct RouteState {
    /// The route's name.
    pub name: Arc<str>,
    /// `file:line:column` of the route.
    pub source: Arc<str>,
    /// Its request counters' id.
    pub metric_id: RouteId,
    /// What an admitted request turns into.
    pub action: RouteAction,
    /// The route's injected faults, run after admission, if it has any.
    pub faults: Option<FaultInjection>,
}

/// A route's action, compiled.
#[derive(Debug)]
pub enum RouteAction {
    /// Proxy to services.
    Forward(ForwardPlan),
    /// Answer directly.
    Respond(FixedResponse),
    /// Write to Kafka (boxed: a produce route is several times larger than the other actions).
    Produce(Box<ProduceRoute>),
    /// Serve a topic to HTTP clients (SSE or long-poll JSON).
    Serve(Box<crate::stream::ServeRoute>),
}

/// A `respond` answer, prepared once.
#[derive(Debug, Clone)]
pub struct FixedResponse {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
    /// Its `Content-Type`.
    pub content_type: HeaderValue,
}
