//! What happened to one request, filled in by the stages as they run and read once at the end
//! by the record stage (metrics and access log).

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use crate::admit::Denial;
use crate::server::admission_response::denial_response;
use crate::server::error_response::json_error;
use crate::server::gateway_response::GatewayResponse;
use crate::trace::RequestTrace;

/// The facts of a request the record stage needs.
#[derive(Debug, Default)]
pub struct Outcome<'g> {
    /// The matched route's name and metric id.
    pub route: Option<(Arc<str>, u32)>,
    /// The authenticated consumer.
    pub consumer: Option<&'g str>,
    /// The admission denial, when admission refused the request.
    pub denial: Option<Denial>,
    /// The upstream endpoint that answered (or was last tried).
    pub upstream: Option<Arc<str>>,
    /// The upstream's time to response head.
    pub upstream_time: Option<Duration>,
    /// Why the gateway answered an error itself.
    pub error: Option<String>,
    /// The faults injected into the request (`delay`, `abort`, `delay+abort`).
    pub fault: Option<&'static str>,
    /// The request's trace, when its gateway traces.
    pub trace: Option<RequestTrace>,
    /// A refusal by the route's upgrade rules (`websocket off`, `websocket { max N }`), logged
    /// as a denial like admission's.
    pub upgrade_refusal: Option<UpgradeRefusal>,
}

/// An upgrade the route refused, for the access log's `denial` record.
#[derive(Debug)]
pub struct UpgradeRefusal {
    /// `websocket` (the route refuses upgrades) or `websocket_max` (the route's cap is reached).
    pub step: &'static str,
    /// Where the route is written (`file:line:column`).
    pub source: Arc<str>,
    /// Why, as the client is told.
    pub reason: String,
}

impl Outcome<'_> {
    /// Records a denial and answers it.
    pub fn deny(&mut self, denial: Denial) -> GatewayResponse {
        let response = denial_response(&denial);
        self.denial = Some(denial);
        response.into()
    }

    /// Records the error and answers it with a JSON body.
    pub fn refuse(&mut self, status: StatusCode, reason: &str) -> GatewayResponse {
        self.error = Some(reason.to_string());
        json_error(status, reason, None).into()
    }
}
