//! Kafka → HTTP: POST each record to a service, with retries, backoff and a concurrency limit.
//!
//! The record's value is the body; its key, origin and headers travel as HTTP headers:
//! `x-kafka-topic`, `x-kafka-partition`, `x-kafka-offset`, `x-kafka-key` (or `x-kafka-key-hex`
//! when the key is not a valid header value), and `x-kafka-header-<name>` per record header. A
//! record header named `content-type` sets the body's type (default `application/octet-stream`).
//!
//! A 2xx answer is success. Connection failures, timeouts, 408, 429 and 5xx are retried on the
//! next endpoint after a backoff; any other status is final. This client is deliberately small:
//! hyper-util's pooled client and round robin, to be swapped for the gateway's pool later.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{HeaderMap, Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::stream::metrics::StreamTally;
use crate::stream::rule::DeliverTarget;
use crate::stream::rules::dead_letter::{DELIVER_FAILED, DELIVER_REJECTED};

/// Why a record could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliverFailure {
    /// The service refused the record with a final status.
    #[error("{endpoint} answered {status}")]
    Rejected {
        /// The endpoint that answered.
        endpoint: String,
        /// The status.
        status: u16,
    },
    /// Every attempt failed.
    #[error("{attempts} attempts failed; the last: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u64,
        /// The last failure.
        last: String,
    },
    /// The service's endpoints do not form valid URIs.
    #[error("cannot address {endpoint}{path}: {reason}")]
    BadEndpoint {
        /// The endpoint.
        endpoint: String,
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

impl DeliverFailure {
    /// The dead-letter reason.
    pub fn reason(&self) -> &'static str {
        match self {
            DeliverFailure::Rejected { .. } => DELIVER_REJECTED,
            DeliverFailure::Exhausted { .. } | DeliverFailure::BadEndpoint { .. } => DELIVER_FAILED,
        }
    }
}

/// One record to deliver (owned: it outlives the consumer's message).
#[derive(Debug, Clone)]
pub struct DeliveryRequest {
    /// The HTTP headers (origin, key and record headers already mapped).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl DeliveryRequest {
    /// Maps a record onto the request delivered for it.
    pub fn from_record<'h>(
        topic: &str,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        value: &[u8],
        headers: impl Iterator<Item = (&'h str, &'h [u8])>,
    ) -> Self {
        let mut map = HeaderMap::with_capacity(8);
        map.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Ok(topic) = HeaderValue::from_str(topic) {
            map.insert(HeaderName::from_static("x-kafka-topic"), topic);
        }
        map.insert(
            HeaderName::from_static("x-kafka-partition"),
            partition.into(),
        );
        map.insert(HeaderName::from_static("x-kafka-offset"), offset.into());
        if let Some(key) = key {
            match HeaderValue::from_bytes(key) {
                Ok(key) => {
                    map.insert(HeaderName::from_static("x-kafka-key"), key);
                }
                Err(_) => {
                    if let Ok(hex) = HeaderValue::from_str(&hex_encode(key)) {
                        map.insert(HeaderName::from_static("x-kafka-key-hex"), hex);
                    }
                }
            }
        }
        for (name, value) in headers {
            let Ok(value) = HeaderValue::from_bytes(value) else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-type") {
                map.insert(CONTENT_TYPE, value);
            } else if let Ok(name) =
                HeaderName::from_bytes(format!("x-kafka-header-{name}").as_bytes())
            {
                map.append(name, value);
            }
        }
        DeliveryRequest {
            headers: map,
            body: Bytes::copy_from_slice(value),
        }
    }

    /// Makes the delivery a hop of the record's trace: `traceparent` names the delivery's span,
    /// and the record's `tracestate` travels as `tracestate` (not as `x-kafka-header-*`).
    pub fn set_trace(&mut self, traceparent: &[u8]) {
        const RECORD_TRACEPARENT: &str = "x-kafka-header-traceparent";
        const RECORD_TRACESTATE: &str = "x-kafka-header-tracestate";
        self.headers.remove(RECORD_TRACEPARENT);
        if let Ok(value) = HeaderValue::from_bytes(traceparent) {
            self.headers
                .insert(HeaderName::from_static("traceparent"), value);
        }
        if let Some(state) = self.headers.remove(RECORD_TRACESTATE) {
            self.headers
                .insert(HeaderName::from_static("tracestate"), state);
        }
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// Delivers records of one stream to its service.
pub struct Deliverer {
    client: Client<HttpConnector, Full<Bytes>>,
    target: DeliverTarget,
    uris: Vec<Result<Uri, DeliverFailure>>,
    next_endpoint: AtomicUsize,
    permits: Arc<Semaphore>,
    runtime: Handle,
    tally: StreamTally,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("target", &self.target)
            .finish()
    }
}

impl Deliverer {
    /// A deliverer for `target`, running its requests on `runtime`.
    pub fn new(target: DeliverTarget, runtime: Handle, tally: StreamTally) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_millis(target.timeout_ms.max(1))));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let path = if target.settings.path.starts_with('/') {
            target.settings.path.clone()
        } else {
            format!("/{}", target.settings.path)
        };
        let uris = target
            .endpoints
            .iter()
            .map(|endpoint| {
                format!("http://{endpoint}{path}")
                    .parse::<Uri>()
                    .map_err(|error| DeliverFailure::BadEndpoint {
                        endpoint: endpoint.clone(),
                        path: path.clone(),
                        reason: error.to_string(),
                    })
            })
            .collect();
        let concurrency = usize::try_from(target.settings.concurrency)
            .unwrap_or(usize::MAX)
            .clamp(1, Semaphore::MAX_PERMITS);
        Deliverer {
            client,
            target,
            uris,
            next_endpoint: AtomicUsize::new(0),
            permits: Arc::new(Semaphore::new(concurrency)),
            runtime,
            tally,
        }
    }

    /// A slot for one more record in flight, if the concurrency limit allows.
    pub fn try_reserve(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }

    /// Delivers `request` in the background, holding `permit` until done, then calls `done`.
    pub fn spawn(
        self: &Arc<Self>,
        permit: OwnedSemaphorePermit,
        request: DeliveryRequest,
        done: impl FnOnce(Result<(), DeliverFailure>, DeliveryRequest) + Send + 'static,
    ) {
        let deliverer = Arc::clone(self);
        self.runtime.spawn(async move {
            let outcome = deliverer.deliver(&request).await;
            drop(permit);
            done(outcome, request);
        });
    }

    /// Delivers one record, retrying as the stream's settings say.
    pub async fn deliver(&self, request: &DeliveryRequest) -> Result<(), DeliverFailure> {
        let attempts = self.target.settings.retry.saturating_add(1);
        let timeout = Duration::from_millis(self.target.timeout_ms.max(1));
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            let index = self.next_endpoint.fetch_add(1, Ordering::Relaxed) % self.uris.len();
            let uri = match &self.uris[index] {
                Ok(uri) => uri.clone(),
                Err(error) => return Err(error.clone()),
            };
            let started = Instant::now();
            match tokio::time::timeout(timeout, self.attempt(uri, request)).await {
                Ok(Ok(status)) if status.is_success() => {
                    self.tally.delivered_over_http(started.elapsed());
                    return Ok(());
                }
                Ok(Ok(status)) if is_final(status) => {
                    return Err(DeliverFailure::Rejected {
                        endpoint: self.target.endpoints[index].clone(),
                        status: status.as_u16(),
                    });
                }
                Ok(Ok(status)) => {
                    last = format!("{} answered {status}", self.target.endpoints[index]);
                }
                Ok(Err(error)) => {
                    last = format!("{}: {error}", self.target.endpoints[index]);
                }
                Err(_) => {
                    last = format!(
                        "{}: no answer within {timeout:?}",
                        self.target.endpoints[index]
                    );
                }
            }
        }
        Err(DeliverFailure::Exhausted { attempts, last })
    }

    async fn attempt(
        &self,
        uri: Uri,
        request: &DeliveryRequest,
    ) -> Result<StatusCode, Box<dyn std::error::Error + Send + Sync>> {
        let mut outgoing = Request::new(Full::new(request.body.clone()));
        *outgoing.method_mut() = Method::POST;
        *outgoing.uri_mut() = uri;
        *outgoing.headers_mut() = request.headers.clone();
        let response = self.client.request(outgoing).await?;
        let status = response.status();
        // Read the body to the end so the connection goes back to the pool.
        response.into_body().collect().await?;
        Ok(status)
    }

    /// Exponential backoff from the minimum to the maximum, with jitter in the upper half so
    /// retries of many records spread out.
    fn backoff(&self, attempt: u64) -> Duration {
        let settings = &self.target.settings;
        let base = settings
            .backoff_min_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
            .min(settings.backoff_max_ms.max(settings.backoff_min_ms));
        let jitter_seed = self.next_endpoint.load(Ordering::Relaxed) as u64 ^ attempt;
        let jitter = splitmix(jitter_seed) % (base / 2 + 1);
        Duration::from_millis(base - base / 2 + jitter)
    }
}

fn is_final(status: StatusCode) -> bool {
    status.is_client_error()
        && status != StatusCode::REQUEST_TIMEOUT
        && status != StatusCode::TOO_MANY_REQUESTS
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_map_onto_http_headers() {
        let request = DeliveryRequest::from_record(
            "red-alerts",
            2,
            99,
            Some(b"ncc-1701"),
            br#"{"severity":"red"}"#,
            [
                ("content-type", &b"application/json"[..]),
                ("trace", &b"abc"[..]),
                ("bad name", &b"dropped"[..]),
            ]
            .into_iter(),
        );
        let header = |name: &str| request.headers.get(name).map(|v| v.to_str().unwrap());
        assert_eq!(header("x-kafka-topic"), Some("red-alerts"));
        assert_eq!(header("x-kafka-partition"), Some("2"));
        assert_eq!(header("x-kafka-offset"), Some("99"));
        assert_eq!(header("x-kafka-key"), Some("ncc-1701"));
        assert_eq!(header("content-type"), Some("application/json"));
        assert_eq!(header("x-kafka-header-trace"), Some("abc"));
        assert_eq!(request.headers.len(), 6);
        assert_eq!(&request.body[..], br#"{"severity":"red"}"#);
    }

    #[test]
    fn a_key_that_is_no_header_value_travels_as_hex() {
        let request = DeliveryRequest::from_record(
            "t",
            0,
            0,
            Some(&[0x00, 0xff, b'\n']),
            b"",
            [].into_iter(),
        );
        assert!(request.headers.get("x-kafka-key").is_none());
        assert_eq!(request.headers.get("x-kafka-key-hex").unwrap(), "00ff0a");
    }

    #[test]
    fn client_errors_are_final_except_timeouts_and_throttling() {
        assert!(is_final(StatusCode::BAD_REQUEST));
        assert!(is_final(StatusCode::NOT_FOUND));
        assert!(!is_final(StatusCode::REQUEST_TIMEOUT));
        assert!(!is_final(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_final(StatusCode::SERVICE_UNAVAILABLE));
    }
}
