//! The forward action, shared by every chain that proxies, in two halves around its one await
//! ([`crate::forward::forward`], which balances, connects, retries and times out): the request
//! made ready (head encoded once), then the answer recorded. The chain awaits `forward` itself:
//! each async function between a chain and `forward` would add a level to the request's future
//! and a copy of its state per request.

use http::Method;

use crate::forward::http1::raw_headers::NameKind;
use crate::forward::http1::request_encoder::{encode_head, BodyFraming, ForwardedHeaders};
use crate::forward::retry_policy::is_idempotent;
use crate::forward::{ForwardFailure, Forwarded, MessageHeaders, RequestBody, UpstreamRequest};
use crate::server::gateway_response::GatewayResponse;

use super::outcome::Outcome;

/// A request on its way to a service: its head as it will be written, and the client's body.
#[derive(Debug)]
pub struct UpstreamCall<'a, 'c> {
    /// The method.
    pub method: &'a Method,
    /// The request target (origin form).
    pub target: &'a str,
    /// The headers (hop-by-hop ones are left out by the encoder).
    pub headers: &'a MessageHeaders,
    /// The forwarding headers this proxy sets.
    pub forwarding: ForwardedHeaders<'a>,
    /// The client's body.
    pub body: RequestBody<'c>,
}

/// The request ready for [`crate::forward::forward`].
#[inline(always)]
pub fn upstream_request<'c>(call: UpstreamCall<'_, 'c>) -> UpstreamRequest<'c> {
    let framing = body_framing(&call.body, call.headers);
    let mut head = Vec::with_capacity(512);
    encode_head(
        call.method,
        call.target,
        call.headers,
        framing,
        &call.forwarding,
        &mut head,
    );
    UpstreamRequest {
        head,
        body: call.body,
        framing,
        idempotent: is_idempotent(call.method),
        head_request: *call.method == Method::HEAD,
    }
}

/// The upstream's response, streaming back; records the endpoint and its time in `outcome`.
#[inline(always)]
pub fn forwarded(forwarded: Forwarded, outcome: &mut Outcome<'_>) -> GatewayResponse {
    outcome.upstream = Some(forwarded.endpoint);
    outcome.upstream_time = Some(forwarded.upstream_time);
    GatewayResponse {
        status: forwarded.status,
        headers: forwarded.headers,
        body: forwarded.body,
    }
}

/// Records a failed forward in `outcome` (the endpoint last tried, and why); returns the reason.
pub fn forward_failed(failure: &ForwardFailure, outcome: &mut Outcome<'_>) -> String {
    let reason = failure.reason();
    outcome.upstream = failure.endpoint.clone();
    outcome.error = Some(reason.clone());
    reason
}

/// How the body goes upstream: its declared (or buffered) length when known, else chunked.
fn body_framing(body: &RequestBody<'_>, headers: &MessageHeaders) -> BodyFraming {
    let declared = body.is_buffered() || headers.has_kind(NameKind::ContentLength);
    match body.remaining_length() {
        Some(length) if declared => BodyFraming::Sized(length),
        _ if body.is_end() => BodyFraming::Empty,
        _ => BodyFraming::Chunked,
    }
}
