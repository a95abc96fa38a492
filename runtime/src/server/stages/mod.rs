//! The stages of the request path, each one concern, composed into chains: the gateway's
//! ([`crate::server::gateway_chain`]) is match → admit → act (respond, produce or forward) →
//! record. Everything a stage consults was compiled at load; a stage hands the next one what it
//! learned (a [`route_match::RouteMatch`], an [`admission::AdmittedRequest`]) or answers the
//! request itself, and writes what happened into the request's [`outcome::Outcome`].

pub mod admission;
pub mod fault;
pub mod forward;
pub mod mirror;
pub mod outcome;
pub mod produce;
pub mod record;
pub mod request_spans;
pub mod respond;
pub mod route_match;
pub mod serve;
pub mod upgrade_refusal;

use super::gateway_response::GatewayResponse;

/// A stage's answer when it ends the request itself (a refusal, a preflight). Boxed: results
/// travel up the chain on every request, and the unboxed response would make each of them
/// hundreds of bytes; a box costs an allocation only on the early answers.
pub type Answered = Box<GatewayResponse>;
