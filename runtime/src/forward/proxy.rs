//! Sending one request to a service: choose an endpoint, reuse or open a connection, wait for the
//! response head within the timeout, and retry what the service's policy allows.
//!
//! A request is only repeated when repeating is safe: when it never left (no connection could be
//! made), when a bodiless idempotent request met a keep-alive connection the upstream had just
//! closed, and otherwise only for a request with an empty body whose repeat is harmless (an
//! idempotent method, or a route marked `idempotent`), as the retry policy lists. Each try is
//! bounded by the service's timeout and the whole by the route's ([`TimeBudget`]): a retry whose
//! backoff would end past the route's deadline is not made.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use tokio::time::{timeout_at, Instant};

use super::clock::now_ms;
use super::endpoint::{Endpoint, Lease};
use super::http1::body_decoder::BodyDecoder;
use super::http1::request_encoder::BodyFraming;
use super::http1::response_head::ResponseHead;
use super::http1::{exchange, ConnectError, ExchangeError, ExchangeRequest, UpstreamConn};
use super::message_headers::MessageHeaders;
use super::request_body::{BodyError, RequestBody};
use super::response_body::{ResponseBody, UpstreamBody};
use super::retry_policy::{FailureKind, RetryPolicy};
use super::service_state::ServiceState;
use super::time_budget::{TimeBudget, TryLimit};

/// A request ready to go upstream.
#[derive(Debug)]
pub struct UpstreamRequest<'c> {
    /// The encoded head ([`super::http1::request_encoder::encode_head`]).
    pub head: Vec<u8>,
    /// The client's body.
    pub body: RequestBody<'c>,
    /// How the head frames the body.
    pub framing: BodyFraming,
    /// Whether the request may be repeated after it reached the upstream: its method is
    /// idempotent or its route is marked `idempotent`.
    pub idempotent: bool,
    /// Whether the method is `HEAD` (the response then has no body).
    pub head_request: bool,
}

/// An upstream response on its way back.
#[derive(Debug)]
pub struct Forwarded {
    /// The status.
    pub status: StatusCode,
    /// The headers as the upstream sent them, hop-by-hop ones removed.
    pub headers: MessageHeaders,
    /// The body, streaming from the upstream connection.
    pub body: ResponseBody,
    /// The endpoint that answered.
    pub endpoint: Arc<str>,
    /// From sending the request to the response head, for the answering attempt.
    pub upstream_time: Duration,
    /// How many attempts the call took (retries + 1).
    pub attempts: u32,
}

/// Why forwarding failed, for the 4xx / 5xx answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardFailure {
    /// What went wrong.
    pub kind: ForwardFailureKind,
    /// The service.
    pub service: Arc<str>,
    /// The endpoint of the last attempt, when one was chosen.
    pub endpoint: Option<Arc<str>>,
    /// The underlying error, for the reason text.
    pub detail: String,
    /// How many attempts were made (retries + 1).
    pub attempts: u32,
}

/// The kinds of forwarding failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardFailureKind {
    /// No endpoint is available (all unhealthy or ejected): 503.
    NoEndpoint,
    /// The service has its `max_requests` in flight: 503, at once.
    Overflow,
    /// No connection could be made: 502.
    Connect,
    /// The connection broke before a response: 502.
    Reset,
    /// The upstream's response head is malformed: 502.
    BadResponse,
    /// No response within the timeout: 504.
    Timeout,
    /// The mutual TLS handshake failed (an impostor, an unknown CA, an expired certificate): 502.
    Handshake,
    /// The client's request body could not be read: 400.
    ClientBody,
    /// The client's request body grew past the route's limit: 413.
    BodyTooLarge,
}

impl ForwardFailure {
    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            ForwardFailureKind::NoEndpoint | ForwardFailureKind::Overflow => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ForwardFailureKind::Connect
            | ForwardFailureKind::Reset
            | ForwardFailureKind::BadResponse
            | ForwardFailureKind::Handshake => StatusCode::BAD_GATEWAY,
            ForwardFailureKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ForwardFailureKind::ClientBody => StatusCode::BAD_REQUEST,
            ForwardFailureKind::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// A sentence for the JSON body and the access log.
    pub fn reason(&self) -> String {
        let at = self.endpoint.as_deref().unwrap_or("-");
        let service = &self.service;
        let detail = &self.detail;
        match self.kind {
            ForwardFailureKind::NoEndpoint => {
                format!("service {service} has no available endpoint")
            }
            ForwardFailureKind::Overflow => {
                format!("service {service} has its max_requests ({detail}) in flight")
            }
            ForwardFailureKind::Connect => format!("cannot connect to {service} ({at}): {detail}"),
            ForwardFailureKind::Reset => {
                format!("{service} ({at}) closed the connection before answering: {detail}")
            }
            ForwardFailureKind::BadResponse => {
                format!("{service} ({at}) sent an invalid response: {detail}")
            }
            ForwardFailureKind::Timeout => {
                format!("{service} ({at}) did not answer within {detail}")
            }
            ForwardFailureKind::Handshake => format!("{service} ({at}): {detail}"),
            ForwardFailureKind::ClientBody | ForwardFailureKind::BodyTooLarge => detail.clone(),
        }
    }
}

/// One failed attempt.
struct AttemptFailure {
    kind: FailureKind,
    /// The failure is the client's body, not the upstream.
    client_body: Option<BodyError>,
    /// The response head was malformed.
    bad_response: bool,
    /// The mutual TLS handshake failed.
    handshake: bool,
    /// Whether the request may have reached the upstream.
    sent: bool,
    detail: String,
}

/// A request ready for the wire, kept so a bodiless one can be sent again.
struct Outgoing<'c> {
    head: Vec<u8>,
    body: Option<RequestBody<'c>>,
    chunked: bool,
    head_request: bool,
    /// Idempotent and bodiless: safe to send again on a fresh connection after a stale one failed.
    replay_on_stale: bool,
}

/// Forwards `request` to `service` within `budget`.
pub async fn forward(
    service: &ServiceState,
    budget: TimeBudget,
    key: Option<u64>,
    request: UpstreamRequest<'_>,
) -> Result<Forwarded, ForwardFailure> {
    if let Some(connections) = &service.h2 {
        // Boxed: HTTP/1.1 requests, the usual case, keep a small future.
        return Box::pin(super::h2::forward_h2(
            service,
            connections,
            budget,
            key,
            request,
        ))
        .await;
    }
    let deadline = budget.start(Instant::now());
    let has_body = request.framing.has_body();
    let idempotent = request.idempotent;
    let mut outgoing = Outgoing {
        head: request.head,
        body: has_body.then_some(request.body),
        chunked: request.framing == BodyFraming::Chunked,
        head_request: request.head_request,
        replay_on_stale: idempotent && !has_body,
    };
    let retry = service.retry.as_ref();
    let retry_budget = service.retry_budget.as_ref();
    if let Some(budget) = retry_budget {
        budget.deposit(now_ms());
    }
    // Any request may be tried again when its connection never opened (it reached nobody); once
    // it has left, only a bodiless request whose repeat is harmless (an idempotent method, or a
    // route marked `idempotent`) is sent again: repeating a POST the upstream may have
    // processed could duplicate its side effect.
    let replayable = idempotent && retry.is_some() && !has_body;
    let mut retries_left = retry.map_or(0, |r| r.attempts);
    let mut retry_number = 0;
    let mut previous: Option<usize> = None;
    loop {
        let fail = |kind, endpoint: Option<&Endpoint>, detail: String| ForwardFailure {
            kind,
            service: service.name.clone(),
            endpoint: endpoint.map(|e| e.address.clone()),
            detail,
            attempts: retry_number + 1,
        };
        let index = match service.pick(key, previous) {
            Ok(index) => index,
            Err(none) => {
                let (kind, detail) = none.failure();
                return Err(fail(kind, None, detail));
            }
        };
        let endpoint = &service.endpoints[index];
        let (until, limit) = deadline.try_limit(Instant::now());
        // The wait before a retry, drawn only when one is wanted, so that the route's deadline
        // can be checked against it.
        let mut backoff = Duration::ZERO;
        // The budget is asked last, so only a retry that would otherwise be made spends it.
        let mut retry_fits = |policy: &RetryPolicy| {
            backoff = policy.backoff(retry_number);
            deadline.retry_fits(Instant::now(), backoff)
                && retry_budget.is_none_or(|b| b.try_withdraw(now_ms()))
        };
        match attempt(endpoint, service, &mut outgoing, until, limit).await {
            Ok((head, conn, lease, upstream_time)) => {
                let status = head.status.as_u16();
                service.record(endpoint, status >= 500, Some(upstream_time));
                let retry_it = replayable
                    && retries_left > 0
                    && retry.is_some_and(|r| r.retries_status(status) && retry_fits(r));
                if !retry_it {
                    let decoder = BodyDecoder::new(head.framing);
                    let keep_alive = head.keep_alive;
                    let body = UpstreamBody::new(conn, decoder, keep_alive, lease);
                    return Ok(Forwarded {
                        status: head.status,
                        headers: MessageHeaders::from_raw(head.headers),
                        body: ResponseBody::Upstream(body),
                        endpoint: endpoint.address.clone(),
                        upstream_time,
                        attempts: retry_number + 1,
                    });
                }
                tracing::debug!(service = %service.name, endpoint = %endpoint.address, status, "retrying");
            }
            Err(failure) => {
                if let Some(error) = failure.client_body {
                    let kind = match error {
                        BodyError::TooLarge { .. } => ForwardFailureKind::BodyTooLarge,
                        _ => ForwardFailureKind::ClientBody,
                    };
                    return Err(fail(kind, Some(endpoint), error.to_string()));
                }
                service.record(endpoint, true, None);
                let allowed = retries_left > 0
                    && (!failure.sent || replayable)
                    && (outgoing.body.is_some() || !has_body)
                    && retry.is_some_and(|r| r.retries_failure(failure.kind) && retry_fits(r));
                if !allowed {
                    let kind = match failure.kind {
                        _ if failure.bad_response => ForwardFailureKind::BadResponse,
                        _ if failure.handshake => ForwardFailureKind::Handshake,
                        FailureKind::ConnectFailure => ForwardFailureKind::Connect,
                        FailureKind::Reset => ForwardFailureKind::Reset,
                        FailureKind::Timeout => ForwardFailureKind::Timeout,
                    };
                    return Err(fail(kind, Some(endpoint), failure.detail));
                }
                tracing::debug!(service = %service.name, endpoint = %endpoint.address, detail = %failure.detail, "retrying");
            }
        }
        if retry.is_none() {
            return Err(fail(
                ForwardFailureKind::Reset,
                Some(endpoint),
                "no retry policy".into(),
            ));
        }
        retries_left -= 1;
        tokio::time::sleep(backoff).await;
        retry_number += 1;
        previous = Some(index);
    }
}

/// One attempt on one endpoint: a pooled connection when there is one, else a new one; then the
/// response head, by `deadline` (set by `limit`). A pooled connection the upstream had closed is
/// replaced once, transparently, when the request is safe to send again.
async fn attempt(
    endpoint: &Arc<Endpoint>,
    service: &ServiceState,
    outgoing: &mut Outgoing<'_>,
    deadline: Instant,
    limit: TryLimit,
) -> Result<(ResponseHead, UpstreamConn, Lease, Duration), AttemptFailure> {
    let now = Instant::now();
    let timeout = deadline.saturating_duration_since(now);
    let lease = endpoint.lease();
    let mut stale_replays = 0;
    loop {
        let mut conn = match endpoint.pool.take_idle() {
            Some(conn) => conn,
            None => match timeout_at(
                deadline,
                UpstreamConn::connect(endpoint.socket_addr, timeout, service.tls.as_ref()),
            )
            .await
            {
                Ok(Ok(conn)) => conn,
                Ok(Err(ConnectError::Handshake(error))) => {
                    let mut failed = failure(FailureKind::ConnectFailure, false, error.to_string());
                    failed.handshake = true;
                    return Err(failed);
                }
                Ok(Err(error)) => {
                    return Err(failure(
                        FailureKind::ConnectFailure,
                        false,
                        error.to_string(),
                    ))
                }
                Err(_) => {
                    let detail = format!("connect timed out after {}", limit.describe());
                    return Err(failure(FailureKind::ConnectFailure, false, detail));
                }
            },
        };
        let started = if stale_replays == 0 && conn.reused {
            now
        } else {
            Instant::now()
        };
        let request = ExchangeRequest {
            head: &outgoing.head,
            body: outgoing.body.take(),
            chunked: outgoing.chunked,
            head_request: outgoing.head_request,
        };
        match timeout_at(deadline, exchange(&mut conn, request)).await {
            Err(_) => return Err(failure(FailureKind::Timeout, true, limit.describe())),
            Ok(Ok(head)) => {
                let upstream_time = started.elapsed();
                endpoint.latency.observe(upstream_time.as_secs_f64());
                return Ok((head, conn, lease, upstream_time));
            }
            Ok(Err(error)) => {
                if conn.reused
                    && error.nothing_received()
                    && outgoing.replay_on_stale
                    && stale_replays < 2
                {
                    stale_replays += 1;
                    continue;
                }
                let mut failed = failure(FailureKind::Reset, true, error.to_string());
                failed.bad_response = matches!(error, ExchangeError::Head(_));
                if let ExchangeError::ClientBody(body_error) = error {
                    failed.client_body = Some(body_error);
                }
                return Err(failed);
            }
        }
    }
}

fn failure(kind: FailureKind, sent: bool, detail: String) -> AttemptFailure {
    AttemptFailure {
        kind,
        client_body: None,
        bad_response: false,
        handshake: false,
        sent,
        detail,
    }
}
