//! The Server-Sent Events side of a serve route: one task per client reads its topic, skips what
//! the condition refuses, and queues each record as an event whose `id:` is the position just
//! after it, with a comment line after each quiet `keepalive`.
//!
//! The queue is bounded (the route's `buffer` events and `buffer_size` bytes). A client that
//! lets it fill is cut off and counted: its connection closes and it reconnects with
//! `Last-Event-ID`, from where it really was, while meshd never holds more than the bound for it.

use bytes::{BufMut, Bytes, BytesMut};
use rdkafka::message::Message;
use tokio::time::Instant;

use crate::forward::streamed_body::{SendRefused, StreamedSender};
use crate::stream::event_cel::EventEvaluator;

use super::position::Position;
use super::serve_route::{ClientSlot, ServeShared};
use super::topic_reader::{Gap, TopicReader};

/// How long an EventSource waits before reconnecting after the stream ends (`retry:`).
const RECONNECT_MS: u32 = 1000;

/// Everything one client's feed owns; it ends when the client leaves, is too slow, or the
/// reader fails.
pub struct SseFeed {
    pub(super) shared: std::sync::Arc<ServeShared>,
    pub(super) reader: TopicReader,
    pub(super) position: Position,
    /// Records asked for that retention deleted: said in the opening comments.
    pub(super) gaps: Vec<Gap>,
    pub(super) sender: StreamedSender,
    /// The client's place among the route's `clients`, freed when the feed ends.
    pub(super) _slot: ClientSlot,
}

impl SseFeed {
    /// Runs until the client is gone or cut off.
    pub async fn run(mut self) {
        let shared = std::sync::Arc::clone(&self.shared);
        let keepalive = shared.keepalive;
        // The opening lines flush the response head at once and tell the client where it starts.
        let mut opening = format!("retry: {RECONNECT_MS}\n");
        for gap in &self.gaps {
            opening.push_str(&format!(
                ": gap: partition {} offsets {}..{} are gone (retention)\n",
                gap.partition, gap.from, gap.to
            ));
        }
        opening.push_str(&format!(
            ": serving {} from {}\n\n",
            shared.topic, self.position
        ));
        if self.send(Bytes::from(opening)).is_err() {
            return;
        }
        let evaluator = EventEvaluator::default();
        let mut quiet_until = Instant::now() + keepalive;
        loop {
            let received = tokio::select! {
                biased;
                () = self.sender.closed() => return,
                // meshd drains: the response ends cleanly and the client reconnects elsewhere.
                () = shared.draining() => return,
                () = tokio::time::sleep_until(quiet_until) => {
                    if self.send(Bytes::from_static(b": keep-alive\n\n")).is_err() {
                        return;
                    }
                    quiet_until = Instant::now() + keepalive;
                    continue;
                }
                received = self.reader.recv() => received,
            };
            let frame = match received {
                Err(error) => {
                    tracing::warn!(%error, route = %shared.route, topic = %shared.topic, "serve: reading the topic failed; the client reconnects");
                    return;
                }
                Ok(message) => {
                    self.position.advance(message.partition(), message.offset());
                    if !shared.filter.passes(&evaluator, &shared.topic, &message) {
                        shared.tally.filtered.inc();
                        continue;
                    }
                    event_frame(&self.position, message.payload())
                }
            };
            if self.send(frame).is_err() {
                return;
            }
            shared.tally.events.inc();
            self.reader.commit(&self.position);
            quiet_until = Instant::now() + keepalive;
        }
    }

    /// Queues a frame; a full queue cuts the client off and counts it.
    fn send(&self, frame: Bytes) -> Result<(), SendRefused> {
        let sent = self.sender.send(frame);
        if sent == Err(SendRefused::TooSlow) {
            self.shared.tally.slow_clients.inc();
            tracing::info!(route = %self.shared.route, topic = %self.shared.topic, position = %self.position, "serve: client too slow for its buffer; disconnected");
        }
        sent
    }
}

/// One SSE event: `id: POSITION`, then the value as `data:` lines (a line per line of the
/// value, as the SSE format requires; an empty `data:` for a record without a value). A line of
/// the value ends where an SSE reader ends one: at CR LF, LF, or a CR alone. Ending lines only
/// at LF would leave a CR inside a `data:` line, where a browser's reader sees a line break,
/// so a record holding `\r\revent: …` would end the event early and start one of its own
/// (an event injected into every client of the route).
pub fn event_frame(position: &Position, value: Option<&[u8]>) -> Bytes {
    let id = position.to_string();
    let value = value.map(String::from_utf8_lossy).unwrap_or_default();
    let mut out = BytesMut::with_capacity(id.len() + value.len() + 16);
    out.put_slice(b"id: ");
    out.put_slice(id.as_bytes());
    out.put_u8(b'\n');
    for line in sse_lines(&value) {
        out.put_slice(b"data: ");
        out.put_slice(line.as_bytes());
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
    out.freeze()
}

/// The lines of `text` as an SSE reader splits them: at CR LF, LF or CR (at least one line).
fn sse_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(text)
            }
            Some(at) => {
                let skip = if text[at..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&text[at + skip..]);
                Some(&text[..at])
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_carries_its_position_and_every_line_of_its_value() {
        let mut position = Position::default();
        position.set(0, 4);
        position.set(1, 9);
        let frame = event_frame(&position, Some(b"{\"a\":1}\nsecond\r\nthird"));
        assert_eq!(
            &frame[..],
            b"id: 0:4,1:9\ndata: {\"a\":1}\ndata: second\ndata: third\n\n"
        );
        assert_eq!(
            &event_frame(&position, None)[..],
            b"id: 0:4,1:9\ndata: \n\n"
        );
    }

    /// What an SSE reader (the WHATWG event-stream algorithm) takes from `stream`: each event's
    /// (id, type, data).
    fn read_events(stream: &str) -> Vec<(String, String, String)> {
        let mut events = Vec::new();
        let (mut id, mut kind, mut data) = (String::new(), String::new(), String::new());
        let mut rest = stream;
        while let Some(at) = rest.find(['\r', '\n']) {
            let line = &rest[..at];
            rest = &rest[at + if rest[at..].starts_with("\r\n") { 2 } else { 1 }..];
            if line.is_empty() {
                if !data.is_empty() {
                    data.pop();
                    events.push((
                        id.clone(),
                        std::mem::take(&mut kind),
                        std::mem::take(&mut data),
                    ));
                }
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "data" => {
                    data.push_str(value);
                    data.push('\n');
                }
                "event" => kind = value.to_string(),
                "id" if !value.contains('\0') => id = value.to_string(),
                _ => {}
            }
        }
        events
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Whatever a record holds, a reader sees one event: its position as the id, no type,
        /// and the value as its data (line breaks as LF). Nothing in a value can end the event
        /// early or start another.
        #[test]
        fn any_value_is_one_event_with_its_own_data(
            value in prop::collection::vec(prop_oneof![
                4 => prop::sample::select(&b"\r\n:data event id retry \0"[..]),
                1 => any::<u8>(),
            ], 0..60),
        ) {
            let mut position = Position::default();
            position.set(0, 7);
            let frame = event_frame(&position, Some(&value));
            let events = read_events(std::str::from_utf8(&frame).unwrap());
            let text = String::from_utf8_lossy(&value);
            let expected = text.replace("\r\n", "\n").replace('\r', "\n");
            prop_assert_eq!(events, vec![("0:7".to_string(), String::new(), expected)]);
        }
    }
}
