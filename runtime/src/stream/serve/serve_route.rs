//! [`ServeRoute`]: a route's `serve topic …` action, built once per bundle. An admitted request
//! becomes either a Server-Sent Events stream ([`super::sse_feed`]) or one long-poll JSON batch
//! ([`super::long_poll`]), read from the client's own position.
//!
//! Where a client starts, in order: `Last-Event-ID` (an EventSource reconnecting), `?from=`
//! (`earliest`, `latest` or a position), `?group=NAME` (where that group left off; the group is
//! kept per route and consumer, so one client cannot move another's), else new records only.
//! A request is long-poll when it asks for `?wait=` or `?max=`, or accepts JSON but not
//! `text/event-stream`.

use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, ACCEPT};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::forward::streamed_body::{streamed_body, StreamedBody};
use crate::stream::broker::KafkaCluster;
use crate::stream::event_cel::{EventCelError, EventExpression};

use super::long_poll::{poll_batch, PollBounds};
use super::position::Position;
use super::record_filter::RecordFilter;
use super::serve_metrics::{ServeMetrics, ServeTally};
use super::sse_feed::SseFeed;
use super::topic_reader::{Opened, Start, TopicReader};

/// The longest long-poll wait a client may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// The wait of a long-poll request that names none.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// The most records one long-poll answer may carry.
pub const MAX_BATCH: usize = 1000;
/// The batch size of a long-poll request that names none.
pub const DEFAULT_BATCH: usize = 100;

/// The bundle's `serve` settings for one route.
#[derive(Debug, Clone)]
pub struct ServeSettings<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The CEL condition over `event`, if any.
    pub when: Option<&'a str>,
    /// Events queued per client before it is cut off.
    pub buffer: u64,
    /// Bytes queued per client before it is cut off.
    pub buffer_bytes: u64,
    /// Clients at once.
    pub clients: u64,
    /// Silence before a keep-alive comment.
    pub keepalive: Duration,
}

/// What a serve route shares with every client task.
#[derive(Debug)]
pub struct ServeShared {
    pub(super) route: Arc<str>,
    pub(super) topic: Arc<str>,
    pub(super) filter: RecordFilter,
    pub(super) keepalive: Duration,
    pub(super) tally: ServeTally,
    /// True once meshd drains: streams end, long polls answer at once.
    pub(super) closing: tokio::sync::watch::Receiver<bool>,
}

impl ServeShared {
    /// Resolves once meshd is draining (never, if the process keeps running).
    pub(super) async fn draining(&self) {
        let mut closing = self.closing.clone();
        if closing.wait_for(|closing| *closing).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A client's place among a route's `clients`; counted in the clients gauge while it lives.
#[derive(Debug)]
pub struct ClientSlot {
    _permit: OwnedSemaphorePermit,
    tally: ServeTally,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.tally.clients.dec();
    }
}

/// A compiled `serve` action.
#[derive(Debug)]
pub struct ServeRoute {
    shared: Arc<ServeShared>,
    cluster: Arc<KafkaCluster>,
    slots: Arc<Semaphore>,
    buffer: usize,
    buffer_bytes: usize,
}

/// How a serve request is answered.
#[derive(Debug)]
pub enum ServeReply {
    /// `200 text/event-stream`, streamed.
    Stream(StreamedBody),
    /// `200 application/json`: one long-poll batch.
    Batch(Value),
    /// Refused before any record: the status, why, and a `Retry-After` in seconds.
    Refused {
        /// The status (400 or 503).
        status: u16,
        /// Why, for the JSON error.
        reason: String,
        /// Seconds to wait before retrying.
        retry_after: Option<u32>,
    },
}

/// What a serve request says about where and how to read.
#[derive(Debug, Default)]
pub struct ServeRequest<'a> {
    /// The request headers (`Last-Event-ID`, `Accept`).
    pub headers: Option<&'a HeaderMap>,
    /// The query string.
    pub query: Option<&'a str>,
    /// The authenticated consumer, which namespaces `?group=`.
    pub consumer: Option<&'a str>,
}

impl ServeRoute {
    /// Compiles the route's condition and prepares its bounds.
    pub fn build(
        route: &str,
        settings: &ServeSettings<'_>,
        cluster: Arc<KafkaCluster>,
        metrics: &ServeMetrics,
        closing: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Self, EventCelError> {
        let condition = settings.when.map(EventExpression::compile).transpose()?;
        let clients = usize::try_from(settings.clients)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Ok(ServeRoute {
            shared: Arc::new(ServeShared {
                route: route.into(),
                topic: settings.topic.into(),
                filter: RecordFilter::new(condition),
                keepalive: settings.keepalive,
                tally: metrics.tally(route, settings.topic),
                closing,
            }),
            cluster,
            slots: Arc::new(Semaphore::new(clients)),
            buffer: usize::try_from(settings.buffer)
                .unwrap_or(usize::MAX)
                .min(1 << 20),
            buffer_bytes: usize::try_from(settings.buffer_bytes).unwrap_or(usize::MAX),
        })
    }

    /// The topic served.
    pub fn topic(&self) -> &str {
        &self.shared.topic
    }

    /// Opens the stream or reads the batch an admitted request asks for.
    pub async fn open(&self, request: &ServeRequest<'_>) -> ServeReply {
        let plan = match ReadPlan::from_request(request, &self.shared.route) {
            Ok(plan) => plan,
            Err(reason) => return refused(400, reason, None),
        };
        let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
            self.shared.tally.refused_clients.inc();
            return refused(
                503,
                format!(
                    "route `{}` already serves its maximum of clients",
                    self.shared.route
                ),
                Some(5),
            );
        };
        let client_id = format!("meshd-serve-{}", self.shared.route);
        let opened = TopicReader::open(
            &self.cluster,
            &client_id,
            &self.shared.topic,
            plan.start,
            plan.group,
        )
        .await;
        let Opened {
            reader,
            position,
            gaps,
        } = match opened {
            Ok(opened) => opened,
            Err(error) => {
                tracing::warn!(%error, route = %self.shared.route, "serve: cannot read the topic");
                return refused(
                    503,
                    format!("cannot read topic `{}`: {error}", self.shared.topic),
                    Some(1),
                );
            }
        };
        // Counted once positioned: from here on, every record produced is the client's.
        self.shared.tally.clients.inc();
        let slot = ClientSlot {
            _permit: permit,
            tally: self.shared.tally.clone(),
        };
        match plan.poll {
            Some(bounds) => {
                let batch = poll_batch(&self.shared, &reader, position, &gaps, bounds).await;
                drop(slot);
                match batch {
                    Ok((answer, next)) => {
                        reader.commit_and_close(next).await;
                        ServeReply::Batch(answer)
                    }
                    Err(error) => refused(
                        503,
                        format!("reading topic `{}` failed: {error}", self.shared.topic),
                        Some(1),
                    ),
                }
            }
            None => {
                let (sender, body) = streamed_body(self.buffer, self.buffer_bytes);
                let feed = SseFeed {
                    shared: Arc::clone(&self.shared),
                    reader,
                    position,
                    gaps,
                    sender,
                    _slot: slot,
                };
                tokio::spawn(feed.run());
                ServeReply::Stream(body)
            }
        }
    }
}

fn refused(status: u16, reason: String, retry_after: Option<u32>) -> ServeReply {
    ServeReply::Refused {
        status,
        reason,
        retry_after,
    }
}

/// Where a request starts, in which group, and whether it is a long poll.
#[derive(Debug)]
struct ReadPlan {
    start: Start,
    group: Option<String>,
    poll: Option<PollBounds>,
}

impl ReadPlan {
    fn from_request(request: &ServeRequest<'_>, route: &str) -> Result<Self, String> {
        let mut from = None;
        let mut group = None;
        let mut wait = None;
        let mut max = None;
        if let Some(query) = request.query {
            for (name, value) in form_urlencoded::parse(query.as_bytes()) {
                match &*name {
                    "from" => from = Some(value.into_owned()),
                    "group" => group = Some(value.into_owned()),
                    "wait" => wait = Some(value.into_owned()),
                    "max" => max = Some(value.into_owned()),
                    _ => {}
                }
            }
        }
        let last_event_id = request
            .headers
            .and_then(|h| h.get("last-event-id"))
            .map(|v| {
                v.to_str()
                    .map_err(|_| "Last-Event-ID is not text".to_string())
            })
            .transpose()?;
        let start = match (last_event_id, from.as_deref()) {
            (Some(id), _) if !id.trim().is_empty() => {
                Start::At(Position::parse(id).map_err(|e| format!("Last-Event-ID: {e}"))?)
            }
            (_, Some("earliest")) => Start::Earliest,
            (_, Some("latest")) => Start::Latest,
            (_, Some(at)) => Start::At(Position::parse(at).map_err(|e| format!("from: {e}"))?),
            (_, None) if group.is_some() => Start::Group,
            (_, None) => Start::Latest,
        };
        let group = group
            .map(|name| {
                let valid = !name.is_empty()
                    && name.len() <= 100
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
                if !valid {
                    return Err(format!(
                        "group `{}` is not a group name (1 to 100 letters, digits, `.`, `_`, `-`)",
                        name.chars().take(100).collect::<String>()
                    ));
                }
                let consumer = request.consumer.unwrap_or("anonymous");
                Ok(format!("meshd-serve.{route}.{consumer}.{name}"))
            })
            .transpose()?;
        let accept = request
            .headers
            .and_then(|h| h.get(ACCEPT))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let wants_json =
            accept.contains("application/json") && !accept.contains("text/event-stream");
        let poll = if wait.is_some() || max.is_some() || wants_json {
            let wait = match wait {
                None => DEFAULT_WAIT,
                Some(text) => humantime::parse_duration(&text)
                    .map_err(|_| format!("wait `{text}` is not a duration (`10s`, `500ms`)"))?
                    .min(MAX_WAIT),
            };
            let max = match max {
                None => DEFAULT_BATCH,
                Some(text) => text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_BATCH).contains(n))
                    .ok_or_else(|| format!("max `{text}` is not a count from 1 to {MAX_BATCH}"))?,
            };
            Some(PollBounds { wait, max })
        } else {
            None
        };
        Ok(ReadPlan { start, group, poll })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn plan(
        query: Option<&str>,
        headers: &[(&'static str, &'static str)],
    ) -> Result<ReadPlan, String> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        ReadPlan::from_request(
            &ServeRequest {
                headers: Some(&map),
                query,
                consumer: Some("picard"),
            },
            "alerts",
        )
    }

    #[test]
    fn last_event_id_wins_over_the_query() {
        let p = plan(
            Some("from=earliest&group=g"),
            &[("last-event-id", "0:5,1:2")],
        )
        .unwrap();
        assert_eq!(p.start, Start::At(Position::parse("0:5,1:2").unwrap()));
        assert_eq!(p.group.as_deref(), Some("meshd-serve.alerts.picard.g"));
        assert!(p.poll.is_none());
    }

    #[test]
    fn a_group_alone_resumes_from_its_commits_and_new_records_are_the_default() {
        assert_eq!(plan(Some("group=g"), &[]).unwrap().start, Start::Group);
        assert_eq!(plan(None, &[]).unwrap().start, Start::Latest);
    }

    #[test]
    fn wait_max_or_a_json_accept_make_a_long_poll() {
        let p = plan(Some("wait=2s&max=5"), &[]).unwrap().poll.unwrap();
        assert_eq!((p.wait, p.max), (Duration::from_secs(2), 5));
        let p = plan(None, &[("accept", "application/json")])
            .unwrap()
            .poll
            .unwrap();
        assert_eq!((p.wait, p.max), (DEFAULT_WAIT, DEFAULT_BATCH));
        assert!(plan(Some("wait=1h"), &[]).unwrap().poll.unwrap().wait == MAX_WAIT);
    }

    #[test]
    fn bad_positions_groups_and_bounds_are_refused() {
        assert!(plan(Some("from=yesterday"), &[]).is_err());
        assert!(plan(None, &[("last-event-id", "0:x")]).is_err());
        assert!(plan(Some("group=a/b"), &[]).is_err());
        assert!(plan(Some("max=0"), &[]).is_err());
        assert!(plan(Some("wait=soon"), &[]).is_err());
    }
}
