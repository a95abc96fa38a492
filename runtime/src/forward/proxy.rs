//! Sending one request to a service: choose an endpoint, reuse or open a connection, wait for the
//! response head within the timeout, and retry what the service's policy allows.
//!
//! A request is only repeated when repeating is safe: always when it never left (a pooled
//! connection turned out closed, or no connection could be made), and otherwise only for an
//! idempotent method with an empty body, as the retry policy lists.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::request::Parts;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio::time::timeout_at;

use super::endpoint::{Endpoint, Lease};
use super::pool::connect;
use super::request_body::RequestBody;
use super::response_body::{ResponseBody, UpstreamBody};
use super::retry_policy::{is_idempotent, FailureKind};
use super::service_state::ServiceState;

/// An upstream response on its way back.
#[derive(Debug)]
pub struct Forwarded {
    /// The response, its body streaming from the upstream connection.
    pub response: Response<ResponseBody>,
    /// The endpoint that answered.
    pub endpoint: Arc<str>,
    /// From sending the request to the response head, for the answering attempt.
    pub upstream_time: Duration,
}

/// Why forwarding failed, for the 502 / 503 / 504 answer.
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
}

/// The kinds of forwarding failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardFailureKind {
    /// No endpoint is available (all unhealthy or ejected): 503.
    NoEndpoint,
    /// No connection could be made: 502.
    Connect,
    /// The connection broke before a response: 502.
    Reset,
    /// No response within the timeout: 504.
    Timeout,
}

impl ForwardFailure {
    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            ForwardFailureKind::NoEndpoint => StatusCode::SERVICE_UNAVAILABLE,
            ForwardFailureKind::Connect | ForwardFailureKind::Reset => StatusCode::BAD_GATEWAY,
            ForwardFailureKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// A sentence for the JSON body and the access log.
    pub fn reason(&self) -> String {
        let at = self.endpoint.as_deref().unwrap_or("-");
        match self.kind {
            ForwardFailureKind::NoEndpoint => {
                format!("service {} has no available endpoint", self.service)
            }
            ForwardFailureKind::Connect => {
                format!("cannot connect to {} ({at}): {}", self.service, self.detail)
            }
            ForwardFailureKind::Reset => {
                format!(
                    "{} ({at}) closed the connection before answering: {}",
                    self.service, self.detail
                )
            }
            ForwardFailureKind::Timeout => {
                format!(
                    "{} ({at}) did not answer within {}",
                    self.service, self.detail
                )
            }
        }
    }
}

/// One failed attempt; `request` is handed back when it was never sent.
struct AttemptFailure {
    kind: FailureKind,
    detail: String,
    request: Option<Request<RequestBody>>,
}

/// Forwards `head` + `body` (already prepared for the upstream) to `service`.
pub async fn forward(
    service: &ServiceState,
    timeout: Duration,
    key: Option<u64>,
    head: Parts,
    body: Incoming,
) -> Result<Forwarded, ForwardFailure> {
    let retry = service
        .retry
        .as_ref()
        .filter(|_| is_idempotent(&head.method));
    // Only a bodiless request can be sent again once it has left.
    let replayable = retry.is_some() && hyper::body::Body::is_end_stream(&body);
    let spare_head = replayable.then(|| clone_head(&head));
    let mut request = Some(Request::from_parts(head, RequestBody::Client(body)));
    let mut retries_left = retry.map_or(0, |r| r.attempts);
    let mut retry_number = 0;
    let mut previous: Option<usize> = None;
    loop {
        let fail = |kind, endpoint: Option<&Endpoint>, detail: String| ForwardFailure {
            kind,
            service: service.name.clone(),
            endpoint: endpoint.map(|e| e.address.clone()),
            detail,
        };
        let Some(index) = service.pick(key, previous) else {
            return Err(fail(ForwardFailureKind::NoEndpoint, None, String::new()));
        };
        let endpoint = &service.endpoints[index];
        // A request that left is only retried when replayable, so then a spare head exists.
        let outgoing = match (request.take(), &spare_head) {
            (Some(r), _) => r,
            (None, Some(head)) => Request::from_parts(clone_head(head), RequestBody::Empty),
            (None, None) => {
                let detail = "the request cannot be repeated".to_string();
                return Err(fail(ForwardFailureKind::Reset, Some(endpoint), detail));
            }
        };
        let failure = match attempt(endpoint, outgoing, timeout).await {
            Ok((response, lease, upstream_time)) => {
                let status = response.status().as_u16();
                let failed = status >= 500;
                service.record(endpoint, failed);
                let retry_it = replayable
                    && retries_left > 0
                    && retry.is_some_and(|r| r.retries_status(status));
                if !retry_it {
                    let (parts, incoming) = response.into_parts();
                    let body = ResponseBody::Upstream(UpstreamBody::new(incoming, lease));
                    return Ok(Forwarded {
                        response: Response::from_parts(parts, body),
                        endpoint: endpoint.address.clone(),
                        upstream_time,
                    });
                }
                None
            }
            Err(failure) => {
                service.record(endpoint, true);
                let sent = failure.request.is_none();
                let kind = failure.kind;
                if let Some(back) = failure.request {
                    request = Some(back);
                }
                let allowed = retry.is_some_and(|r| r.retries_failure(kind))
                    && retries_left > 0
                    && (!sent || replayable);
                if !allowed {
                    let kind = match kind {
                        FailureKind::ConnectFailure => ForwardFailureKind::Connect,
                        FailureKind::Reset => ForwardFailureKind::Reset,
                        FailureKind::Timeout => ForwardFailureKind::Timeout,
                    };
                    return Err(fail(kind, Some(endpoint), failure.detail));
                }
                Some(failure.detail)
            }
        };
        if let Some(detail) = failure {
            tracing::debug!(service = %service.name, endpoint = %endpoint.address, %detail, "retrying");
        }
        let policy = retry.expect("a retry only happens under a retry policy");
        retries_left -= 1;
        tokio::time::sleep(policy.backoff(retry_number)).await;
        retry_number += 1;
        previous = Some(index);
    }
}

/// One attempt on one endpoint: a pooled connection when there is one (a stale one is replaced
/// transparently, since the request never left), else a new one; then the response head.
async fn attempt(
    endpoint: &Arc<Endpoint>,
    mut request: Request<RequestBody>,
    timeout: Duration,
) -> Result<(Response<Incoming>, Lease, Duration), AttemptFailure> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut lease = endpoint.lease();
    loop {
        let (mut sender, reused) = match endpoint.pool.take_idle() {
            Some(sender) => (sender, true),
            None => {
                let connected = timeout_at(deadline, connect(endpoint.socket_addr, timeout)).await;
                match connected {
                    Ok(Ok(sender)) => (sender, false),
                    Ok(Err(error)) => {
                        return Err(AttemptFailure {
                            kind: FailureKind::ConnectFailure,
                            detail: error.to_string(),
                            request: Some(request),
                        })
                    }
                    Err(_) => {
                        return Err(AttemptFailure {
                            kind: FailureKind::ConnectFailure,
                            detail: format!("connect timed out after {}", format_duration(timeout)),
                            request: Some(request),
                        })
                    }
                }
            }
        };
        if sender.ready().await.is_err() {
            if reused {
                continue;
            }
            return Err(AttemptFailure {
                kind: FailureKind::Reset,
                detail: "the connection closed right after opening".to_string(),
                request: Some(request),
            });
        }
        let started = Instant::now();
        match timeout_at(deadline, sender.try_send_request(request)).await {
            Err(_) => {
                return Err(AttemptFailure {
                    kind: FailureKind::Timeout,
                    detail: format_duration(timeout),
                    request: None,
                })
            }
            Ok(Ok(response)) => {
                let upstream_time = started.elapsed();
                endpoint.latency.observe(upstream_time.as_secs_f64());
                lease.hold(sender);
                return Ok((response, lease, upstream_time));
            }
            Ok(Err(mut error)) => match error.take_message() {
                Some(unsent) if reused => request = unsent,
                unsent => {
                    return Err(AttemptFailure {
                        kind: FailureKind::Reset,
                        detail: error.into_error().to_string(),
                        request: unsent,
                    })
                }
            },
        }
    }
}

fn clone_head(head: &Parts) -> Parts {
    let mut request = Request::builder()
        .method(head.method.clone())
        .uri(head.uri.clone())
        .version(head.version)
        .body(())
        .expect("a method, URI and version taken from a valid request build a valid request");
    *request.headers_mut() = head.headers.clone();
    request.into_parts().0
}

fn format_duration(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}
