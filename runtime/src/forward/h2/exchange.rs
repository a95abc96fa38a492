//! Forwarding one request to an HTTP/2 service: choose an endpoint, send on its multiplexed
//! connection, wait for the response head within the time budget, and retry what the service's
//! policy allows.
//!
//! gRPC: a client's `grpc-timeout` narrows the route's deadline (the smaller wins) and the
//! upstream receives what is left of it as its own `grpc-timeout`; `retry … on [grpc NAME]`
//! fires on the `grpc-status` of a trailers-only answer. A request is sent again only when its
//! whole body is at hand: no body, a body read whole, or a streamed body the client finished
//! within [`REPLAY_LIMIT`](super::request_body::REPLAY_LIMIT) bytes. A streaming call whose
//! request stream is still open (client or bidirectional streaming) is never repeated. Statuses
//! and transport failures after the request left are retried for idempotent requests (as for
//! HTTP/1.1); gRPC statuses for any method, since listing them is the service owner's statement
//! that the call may be repeated (gRFC A6's `retryableStatusCodes`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::HeaderValue;
use hyper::body::Incoming;
use tokio::time::{timeout_at, Instant};

use super::connection::H2Connections;
use super::grpc_timeout::{format_grpc_timeout, parse_grpc_timeout};
use super::request_body::{H2RequestBody, ReplayTap};
use super::request_head::{h2_head, H2Head};
use super::response_body::H2ResponseBody;
use super::stream_slot::StreamSlot;
use crate::forward::clock::now_ms;
use crate::forward::endpoint::Endpoint;
use crate::forward::http1::ConnectError;
use crate::forward::request_body::{BodyError, RequestBody};
use crate::forward::{
    ForwardFailure, ForwardFailureKind, Forwarded, MessageHeaders, ResponseBody, ServiceState,
    TimeBudget, UpstreamRequest,
};

/// The request body as it can be sent, now and again.
enum Pending {
    Empty,
    Full(Bytes),
    /// The client's stream, until the first attempt takes it; then its tap.
    Streamed {
        stream: Option<(Incoming, Option<u64>)>,
        tap: Option<Arc<Mutex<ReplayTap>>>,
    },
}

impl Pending {
    /// The body for the next attempt, when it can still be sent.
    fn next(&mut self) -> Option<H2RequestBody> {
        match self {
            Pending::Empty => Some(H2RequestBody::Empty),
            Pending::Full(bytes) => Some(H2RequestBody::Full(Some(bytes.clone()))),
            Pending::Streamed { stream, tap } => match stream.take() {
                Some((incoming, limit)) => {
                    let (body, new_tap) = H2RequestBody::streamed(incoming, limit);
                    *tap = Some(new_tap);
                    Some(body)
                }
                None => self.replay().map(|b| H2RequestBody::Full(Some(b))),
            },
        }
    }

    /// Whether another attempt could send the whole body.
    fn replayable(&self) -> bool {
        match self {
            Pending::Empty | Pending::Full(_) => true,
            Pending::Streamed { stream, .. } => stream.is_some() || self.replay().is_some(),
        }
    }

    fn replay(&self) -> Option<Bytes> {
        let Pending::Streamed { tap: Some(tap), .. } = self else {
            return None;
        };
        tap.lock().unwrap_or_else(|p| p.into_inner()).replay()
    }

    /// The client's body failure seen while streaming, if any.
    fn client_failure(&self) -> Option<BodyError> {
        let Pending::Streamed { tap: Some(tap), .. } = self else {
            return None;
        };
        tap.lock().unwrap_or_else(|p| p.into_inner()).failed.clone()
    }
}

/// One failed attempt.
struct Failed {
    kind: ForwardFailureKind,
    /// Whether the request may have reached the upstream.
    sent: bool,
    detail: String,
}

/// Forwards `request` to `service` (an HTTP/2 service) within `budget`.
pub async fn forward_h2(
    service: &ServiceState,
    connections: &H2Connections,
    budget: TimeBudget,
    key: Option<u64>,
    request: UpstreamRequest<'_>,
) -> Result<Forwarded, ForwardFailure> {
    let fail = |kind, endpoint: Option<&Endpoint>, detail: String, attempts| ForwardFailure {
        kind,
        service: service.name.clone(),
        endpoint: endpoint.map(|e| e.address.clone()),
        detail,
        attempts,
    };
    let fallback = service
        .endpoints
        .first()
        .map_or("localhost", |e| &*e.address);
    let head = h2_head(&request.head, connections.scheme(), fallback)
        .map_err(|error| fail(ForwardFailureKind::ClientBody, None, error.to_string(), 0))?;
    let client_timeout = head
        .grpc
        .then(|| head.headers.get("grpc-timeout"))
        .flatten()
        .and_then(|value| parse_grpc_timeout(value.as_bytes()));
    let overall = match (budget.overall, client_timeout) {
        (Some(route), Some(client)) => Some(route.min(client)),
        (route, client) => route.or(client),
    };
    let budget = TimeBudget {
        per_try: budget.per_try,
        overall,
    };
    let started = Instant::now();
    let deadline = budget.start(started);
    let overall_end = overall.map(|d| started + d);
    let mut pending = pending_body(request.framing.has_body(), request.body)
        .await
        .map_err(|error| fail(body_failure_kind(&error), None, error.to_string(), 0))?;
    let retry = service.retry.as_ref();
    let retry_budget = service.retry_budget.as_ref();
    if let Some(budget) = retry_budget {
        budget.deposit(now_ms());
    }
    let mut retries_left = retry.map_or(0, |r| r.attempts);
    let mut retry_number = 0;
    let mut previous = None;
    loop {
        let index = match service.pick(key, previous) {
            Ok(index) => index,
            Err(none) => {
                let (kind, detail) = none.failure();
                return Err(fail(kind, None, detail, retry_number));
            }
        };
        let endpoint = &service.endpoints[index];
        let (until, limit) = deadline.try_limit(Instant::now());
        let attempt = attempt(
            connections,
            index,
            endpoint,
            &head,
            &mut pending,
            until,
            overall_end,
        )
        .await;
        if let Some(error) = pending.client_failure() {
            return Err(fail(
                body_failure_kind(&error),
                Some(endpoint),
                error.to_string(),
                retry_number + 1,
            ));
        }
        let mut backoff = Duration::ZERO;
        let mut retry_fits = |policy: &crate::forward::retry_policy::RetryPolicy| {
            backoff = policy.backoff(retry_number);
            deadline.retry_fits(Instant::now(), backoff)
                && retry_budget.is_none_or(|b| b.try_withdraw(now_ms()))
        };
        match attempt {
            Ok((response, lease, stream, upstream_time)) => {
                let status = response.status().as_u16();
                let grpc_status = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| std::str::from_utf8(v.as_bytes()).ok()?.parse::<u8>().ok());
                // UNAVAILABLE is how a gRPC server says it cannot serve (gRPC maps 503 to it).
                let failed = status >= 500 || grpc_status == Some(14);
                service.record(endpoint, failed, Some(upstream_time));
                let wanted = retry.is_some_and(|r| {
                    (request.idempotent && r.retries_status(status))
                        || grpc_status.is_some_and(|code| r.retries_grpc(code))
                });
                let retry_it = wanted
                    && retries_left > 0
                    && pending.replayable()
                    && retry.is_some_and(&mut retry_fits);
                if !retry_it {
                    let (parts, incoming) = response.into_parts();
                    return Ok(Forwarded {
                        status: parts.status,
                        headers: MessageHeaders::from_map(parts.headers),
                        body: ResponseBody::Http2(H2ResponseBody::new(incoming, lease, stream)),
                        endpoint: endpoint.address.clone(),
                        upstream_time,
                        attempts: retry_number + 1,
                    });
                }
                tracing::debug!(service = %service.name, endpoint = %endpoint.address, status, ?grpc_status, "retrying");
            }
            Err(failed) => {
                service.record(endpoint, true, None);
                let failure_kind = match failed.kind {
                    ForwardFailureKind::Connect | ForwardFailureKind::Handshake => {
                        crate::forward::retry_policy::FailureKind::ConnectFailure
                    }
                    ForwardFailureKind::Timeout => {
                        crate::forward::retry_policy::FailureKind::Timeout
                    }
                    _ => crate::forward::retry_policy::FailureKind::Reset,
                };
                let allowed = retries_left > 0
                    && (!failed.sent || request.idempotent)
                    && pending.replayable()
                    && retry.is_some_and(|r| r.retries_failure(failure_kind) && retry_fits(r));
                if !allowed {
                    let detail = match failed.kind {
                        ForwardFailureKind::Timeout => limit.describe(),
                        _ => failed.detail,
                    };
                    return Err(fail(failed.kind, Some(endpoint), detail, retry_number + 1));
                }
                tracing::debug!(service = %service.name, endpoint = %endpoint.address, detail = %failed.detail, "retrying");
            }
        }
        retries_left -= 1;
        tokio::time::sleep(backoff).await;
        retry_number += 1;
        previous = Some(index);
    }
}

/// One attempt on endpoint `index`: the connection (pooled or new), the request, the response
/// head by `until`.
async fn attempt(
    connections: &H2Connections,
    index: usize,
    endpoint: &Arc<Endpoint>,
    head: &H2Head,
    pending: &mut Pending,
    until: Instant,
    overall_end: Option<Instant>,
) -> Result<
    (
        http::Response<Incoming>,
        crate::forward::endpoint::Lease,
        StreamSlot,
        Duration,
    ),
    Failed,
> {
    let now = Instant::now();
    let lease = endpoint.lease();
    let connect_within = until.saturating_duration_since(now);
    let (mut sender, stream) = connections
        .sender(
            index,
            endpoint.socket_addr,
            &endpoint.address,
            connect_within,
        )
        .await
        .map_err(|error| Failed {
            kind: match error {
                ConnectError::Handshake(_) => ForwardFailureKind::Handshake,
                _ => ForwardFailureKind::Connect,
            },
            sent: false,
            detail: error.to_string(),
        })?;
    // Taken only once connected: a client's stream survives a connect failure, which any
    // request may retry.
    let Some(body) = pending.next() else {
        return Err(Failed {
            kind: ForwardFailureKind::Reset,
            sent: true,
            detail: "the request body cannot be sent again".into(),
        });
    };
    let mut request = http::Request::new(body);
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = head.uri.clone();
    *request.headers_mut() = head.headers.clone();
    if let (true, Some(end)) = (head.grpc, overall_end) {
        let left = format_grpc_timeout(end.saturating_duration_since(Instant::now()));
        if let Ok(value) = HeaderValue::from_str(&left) {
            request.headers_mut().insert("grpc-timeout", value);
        }
    }
    let sent_at = Instant::now();
    match timeout_at(until, sender.send_request(request)).await {
        Err(_) => Err(Failed {
            kind: ForwardFailureKind::Timeout,
            sent: true,
            detail: String::new(),
        }),
        Ok(Err(error)) => {
            connections.forget(index, &stream);
            Err(Failed {
                kind: ForwardFailureKind::Reset,
                // A request the closed connection never took did not leave.
                sent: !error.is_canceled(),
                detail: error.to_string(),
            })
        }
        // RFC 9110 §15: a status past 599 is invalid (the `http` crate takes up to 999).
        Ok(Ok(response)) if response.status().as_u16() > 599 => Err(Failed {
            kind: ForwardFailureKind::BadResponse,
            sent: true,
            detail: format!(
                "the upstream answered with status {}, outside 100-599",
                response.status().as_u16()
            ),
        }),
        Ok(Ok(response)) => {
            let upstream_time = sent_at.elapsed();
            endpoint.latency.observe(upstream_time.as_secs_f64());
            Ok((response, lease, stream, upstream_time))
        }
    }
}

/// The body as it can be sent: an HTTP/2 client's stream is passed on as it comes; any other
/// body (an HTTP/1.1 client's, which borrows its connection) is read whole first.
async fn pending_body(has_body: bool, body: RequestBody<'_>) -> Result<Pending, BodyError> {
    if !has_body {
        return Ok(Pending::Empty);
    }
    match body.into_hyper() {
        Ok(stream) => Ok(Pending::Streamed {
            stream: Some(stream),
            tap: None,
        }),
        Err(mut body) => {
            let mut all = BytesMut::new();
            while let Some(piece) = body.next().await {
                all.extend_from_slice(&piece?);
            }
            Ok(Pending::Full(all.freeze()))
        }
    }
}

fn body_failure_kind(error: &BodyError) -> ForwardFailureKind {
    match error {
        BodyError::TooLarge { .. } => ForwardFailureKind::BodyTooLarge,
        _ => ForwardFailureKind::ClientBody,
    }
}
