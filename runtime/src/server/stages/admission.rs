//! The admission stage of the gateway chain: the route's checks (auth → access → rate limit →
//! condition → body limit) and CORS, with the body buffered first when a condition reads it.
//! The stage is a few small steps rather than one async function: the chain awaits the checks
//! itself, so the request's future does not gain a level.

use std::net::SocketAddr;

use bytes::Bytes;
use http::StatusCode;

use crate::admit::{Admitted, Denial, RequestFacts, RouteAdmission};
use crate::forward::{BodyError, RequestBody};
use crate::server::admission_response::preflight_response;
use crate::server::body_buffer::{buffer_body, DEFAULT_BUFFER_LIMIT};
use crate::server::client_request::ClientRequest;
use crate::server::gateway_response::GatewayResponse;

use super::outcome::Outcome;
use super::Answered;

/// What admission and request CEL see of a request, gathered once it matched a route.
#[derive(Debug, Clone, Copy)]
pub struct RequestSeen<'a> {
    /// The request head.
    pub request: &'a ClientRequest,
    /// The normalized path.
    pub path: &'a str,
    /// The host without port.
    pub host: &'a str,
    /// The path template's captures.
    pub params: &'a [(&'a str, &'a str)],
    /// The TCP peer.
    pub remote: SocketAddr,
}

impl<'a> RequestSeen<'a> {
    /// The request facts (reading the headers where the request holds them).
    pub fn facts(&self, body: Option<&'a [u8]>) -> RequestFacts<'a> {
        RequestFacts::new(
            &self.request.method,
            self.path,
            self.request.header_view(),
            self.remote,
        )
        .with_query(self.request.query())
        .with_host(Some(self.host))
        .with_params(self.params)
        .with_body(body)
    }
}

/// An admitted request: what admission learned, and the body when it had to be read whole.
#[derive(Debug)]
pub struct AdmittedRequest<'a> {
    /// The consumer, claims, rate-limit state and header rules.
    pub admitted: Admitted<'a>,
    /// The whole body, when a condition read it.
    pub buffered: Option<Bytes>,
}

/// Admits at once on a route with nothing to check (no request facts are built); `None` when
/// the route has checks, which the chain then runs: [`read_body_for_conditions`] when
/// [`RouteAdmission::needs_body`], [`preflight`], then `RouteAdmission::admit` (awaited by the
/// chain itself, so the request's future stays one level deep) and [`admitted`].
#[inline(always)]
pub fn admit_open(admission: &RouteAdmission) -> Option<AdmittedRequest<'_>> {
    admission.is_open().then(|| AdmittedRequest {
        admitted: admission.admit_open(),
        buffered: None,
    })
}

/// Reads the whole body for a condition that reads `request.body` (up to the route's limit).
pub async fn read_body_for_conditions(
    admission: &RouteAdmission,
    body: &mut RequestBody<'_>,
    outcome: &mut Outcome<'_>,
) -> Result<Bytes, Answered> {
    let cap = admission.body_limit().unwrap_or(DEFAULT_BUFFER_LIMIT);
    buffer_body(body, cap)
        .await
        .map_err(|error| Box::new(body_refused(admission, outcome, &error)))
}

/// A CORS preflight's answer (204, or 403 for an origin or method the policy refuses).
#[inline(always)]
pub fn preflight(
    admission: &RouteAdmission,
    facts: &RequestFacts<'_>,
    outcome: &mut Outcome<'_>,
) -> Option<Answered> {
    let answer = admission.preflight(facts)?;
    Some(Box::new(match answer {
        Ok(preflight) => preflight_response(preflight).into(),
        Err(denial) => outcome.deny(denial),
    }))
}

/// The result of the route's checks: the admitted request, or the refusal as the answer.
#[inline(always)]
pub fn admitted<'g>(
    result: Result<Admitted<'g>, Denial>,
    buffered: Option<Bytes>,
    outcome: &mut Outcome<'g>,
) -> Result<AdmittedRequest<'g>, Answered> {
    match result {
        Ok(admitted) => {
            outcome.consumer = admitted.consumer_name();
            Ok(AdmittedRequest { admitted, buffered })
        }
        Err(denial) => Err(Box::new(outcome.deny(denial))),
    }
}

/// The 413 (or 400) for a body that could not be read.
pub fn body_refused(
    admission: &RouteAdmission,
    outcome: &mut Outcome<'_>,
    error: &BodyError,
) -> GatewayResponse {
    match error {
        BodyError::TooLarge { limit } => match admission.body_too_large() {
            Some(denial) => outcome.deny(denial),
            None => outcome.refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than the {limit} bytes meshd reads for a condition"),
            ),
        },
        other => outcome.refuse(other.status(), &other.to_string()),
    }
}
