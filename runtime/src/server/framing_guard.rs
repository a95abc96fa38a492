//! Request-smuggling guard for HTTP/1 connections.
//!
//! hyper resolves a request carrying both `Content-Length` and `Transfer-Encoding` the way
//! RFC 9112 §6.3 allows (chunked wins, the length is dropped, the connection closes afterwards),
//! but it removes the evidence, and meshd refuses such requests outright with 400 rather than
//! guess. So the connection's bytes pass through [`FramingGuard`], which follows the HTTP/1 message
//! framing (heads, fixed-length and chunked bodies) just enough to note, for each request head in
//! order, whether it had both headers; the request handler takes those notes in the same order.
//! On anything it does not follow (HTTP/2, upgrades, malformed chunking) it stops looking and
//! hyper's own checks stand.
//!
//! The same scanner notes when a request head started arriving, so a per-connection watchdog
//! (see [`crate::server::workers`]) can close connections whose head takes too long (slowloris)
//! without arming a timer per request.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::forward::clock::now_ms;

/// What the scanner noticed about one request head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadNote {
    /// Both `Content-Length` and `Transfer-Encoding` were present.
    pub ambiguous: bool,
    /// The head was longer than [`MAX_HEAD_BYTES`].
    pub oversized: bool,
}

/// The largest request head accepted (hyper only enforces its limit on heads that arrive in
/// pieces, so the scanner enforces it for heads that arrive whole).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Per-head notes shared between the byte scanner, the request handler and the watchdog.
#[derive(Debug, Default)]
pub struct FramingNotes {
    ambiguous: Mutex<VecDeque<HeadNote>>,
    /// `clock::now_ms` when the head being read began arriving; 0 when no head is in progress.
    head_started_ms: AtomicU64,
}

impl FramingNotes {
    /// Whether a request head has been arriving for longer than `timeout_ms`.
    pub fn head_overdue(&self, timeout_ms: u64) -> bool {
        let started = self.head_started_ms.load(Ordering::Relaxed);
        started != 0 && now_ms().saturating_sub(started) > timeout_ms
    }

    fn head_began(&self) {
        if self.head_started_ms.load(Ordering::Relaxed) == 0 {
            self.head_started_ms.store(now_ms(), Ordering::Relaxed);
        }
    }

    fn head_ended(&self) {
        self.head_started_ms.store(0, Ordering::Relaxed);
    }

    /// Takes the note of the next request head.
    pub fn next_head(&self) -> HeadNote {
        self.ambiguous
            .lock()
            .map(|mut notes| notes.pop_front().unwrap_or_default())
            .unwrap_or_default()
    }

    fn push(&self, note: HeadNote) {
        if let Ok(mut notes) = self.ambiguous.lock() {
            notes.push_back(note);
        }
    }
}

/// Where the scanner is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a head's lines.
    Head,
    /// Skipping this many body bytes.
    Fixed(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Skipping this many chunk bytes.
    ChunkData(u64),
    /// Reading the empty line that ends a chunk's data.
    ChunkEnd,
    /// Reading trailer lines until the empty one.
    Trailers,
    /// No longer following the stream.
    Off,
}

/// The header facts of the head being read.
#[derive(Debug, Default, Clone, Copy)]
struct HeadFacts {
    lines: u32,
    bytes: usize,
    content_length: Option<u64>,
    has_content_length: bool,
    chunked: bool,
    has_transfer_encoding: bool,
    upgrade: bool,
}

/// Follows HTTP/1 framing over the bytes read.
#[derive(Debug)]
struct Scanner {
    state: State,
    line: Vec<u8>,
    head: HeadFacts,
    notes: Arc<FramingNotes>,
}

/// Only a line's start matters (header names, chunk sizes); longer lines are cut here.
const KEPT_LINE_BYTES: usize = 128;

impl Scanner {
    fn feed(&mut self, mut bytes: &[u8]) {
        if self.state == State::Head && !bytes.is_empty() {
            self.notes.head_began();
        }
        while !bytes.is_empty() {
            match self.state {
                State::Off => return,
                State::Fixed(left) | State::ChunkData(left) => {
                    let take = (bytes.len() as u64).min(left);
                    bytes = &bytes[take as usize..];
                    let left = left - take;
                    self.state = match (self.state, left) {
                        (State::Fixed(_), 0) => State::Head,
                        (State::Fixed(_), n) => State::Fixed(n),
                        (_, 0) => State::ChunkEnd,
                        (_, n) => State::ChunkData(n),
                    };
                }
                State::Head | State::ChunkSize | State::ChunkEnd | State::Trailers => {
                    let head = self.state == State::Head;
                    let Some(end) = bytes.iter().position(|b| *b == b'\n') else {
                        if head {
                            self.head.bytes += bytes.len();
                        }
                        self.keep(bytes);
                        return;
                    };
                    if head {
                        self.head.bytes += end + 1;
                    }
                    if self.line.is_empty() {
                        // The whole line is in this read: look at it in place.
                        let line = &bytes[..end];
                        self.end_of_line(line.strip_suffix(b"\r").unwrap_or(line));
                    } else {
                        self.keep(&bytes[..end]);
                        let mut line = std::mem::take(&mut self.line);
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        self.end_of_line(&line);
                        line.clear();
                        self.line = line;
                    }
                    bytes = &bytes[end + 1..];
                }
            }
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = KEPT_LINE_BYTES.saturating_sub(self.line.len());
        self.line.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn end_of_line(&mut self, line: &[u8]) {
        match self.state {
            State::Head => self.head_line(line),
            State::ChunkEnd => {
                self.state = if line.is_empty() {
                    State::ChunkSize
                } else {
                    State::Off
                };
            }
            State::ChunkSize => {
                let digits = line.split(|b| *b == b';').next().unwrap_or(b"");
                let size = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| u64::from_str_radix(d.trim(), 16).ok());
                self.state = match size {
                    Some(0) => State::Trailers,
                    Some(n) => State::ChunkData(n),
                    None => State::Off,
                };
            }
            State::Trailers if line.is_empty() => self.state = State::Head,
            _ => {}
        }
    }

    fn head_line(&mut self, line: &[u8]) {
        if line.is_empty() {
            if self.head.lines == 0 {
                return; // Empty lines before a request line are ignored (RFC 9112 §2.2).
            }
            let head = std::mem::take(&mut self.head);
            self.notes.head_ended();
            self.notes.push(HeadNote {
                ambiguous: head.has_content_length && head.has_transfer_encoding,
                oversized: head.bytes > MAX_HEAD_BYTES,
            });
            self.state = if head.upgrade {
                State::Off
            } else if head.has_transfer_encoding {
                if head.chunked {
                    State::ChunkSize
                } else {
                    State::Off
                }
            } else {
                match head.content_length {
                    Some(0) | None => State::Head,
                    Some(n) => State::Fixed(n),
                }
            };
            return;
        }
        self.head.lines += 1;
        if self.head.lines == 1 {
            // The request line: HTTP/2's preface and CONNECT leave HTTP/1 framing.
            if line.starts_with(b"PRI ") || line.starts_with(b"CONNECT ") {
                self.head.upgrade = true;
            }
            return;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            self.head.has_content_length = true;
            self.head.content_length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.head.has_transfer_encoding = true;
            self.head.chunked = value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            self.head.upgrade = true;
        }
    }
}

/// An I/O stream whose incoming bytes are followed by a framing scanner.
#[derive(Debug)]
pub struct FramingGuard<T> {
    inner: T,
    scanner: Scanner,
}

impl<T> FramingGuard<T> {
    /// Wraps `inner`; notes go to `notes`.
    pub fn new(inner: T, notes: Arc<FramingNotes>) -> Self {
        FramingGuard {
            inner,
            scanner: Scanner {
                state: State::Head,
                line: Vec::new(),
                head: HeadFacts::default(),
                notes,
            },
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for FramingGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            if this.scanner.state != State::Off {
                this.scanner.feed(&buf.filled()[before..]);
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FramingGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes_for(chunks: &[&[u8]]) -> Vec<bool> {
        let notes = Arc::new(FramingNotes::default());
        let mut guard = FramingGuard::new((), Arc::clone(&notes));
        for chunk in chunks {
            guard.scanner.feed(chunk);
        }
        let mut out = Vec::new();
        while let Ok(mut queue) = notes.ambiguous.lock() {
            match queue.pop_front() {
                Some(note) => out.push(note.ambiguous),
                None => break,
            }
        }
        out
    }

    #[test]
    fn a_head_with_both_framing_headers_is_noted_in_order() {
        let stream: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(notes_for(&[stream]), [false, true]);
    }

    #[test]
    fn bodies_are_skipped_even_when_they_look_like_heads() {
        let body = b"X\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut stream =
            format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        stream.extend_from_slice(body);
        stream.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(notes_for(&[&stream]), [false, false]);
    }

    #[test]
    fn chunked_bodies_split_anywhere_are_followed() {
        let stream: &[u8] = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3\r\n\r\n\n\r\n0\r\nTrailer: x\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let pieces: Vec<&[u8]> = stream.chunks(3).collect();
        assert_eq!(notes_for(&pieces), [false, true]);
    }

    #[test]
    fn a_head_in_progress_is_timed_and_a_complete_one_is_not() {
        let notes = Arc::new(FramingNotes::default());
        let mut guard = FramingGuard::new((), Arc::clone(&notes));
        guard.scanner.feed(b"GET / HTTP/1.1\r\nHost:");
        assert_ne!(notes.head_started_ms.load(Ordering::Relaxed), 0);
        assert!(!notes.head_overdue(60_000));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(notes.head_overdue(5));
        guard.scanner.feed(b" x\r\n\r\n");
        assert!(!notes.head_overdue(0));
    }

    #[test]
    fn a_head_over_the_limit_is_noted_however_it_arrives() {
        let notes = Arc::new(FramingNotes::default());
        let mut guard = FramingGuard::new((), Arc::clone(&notes));
        let mut head = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES));
        head.extend_from_slice(b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
        for piece in head.chunks(7_000) {
            guard.scanner.feed(piece);
        }
        assert!(notes.next_head().oversized);
        assert!(!notes.next_head().oversized);
    }

    #[test]
    fn http2_and_upgrades_stop_the_scan() {
        assert_eq!(
            notes_for(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nContent-Length: 1\r\n"]),
            [false]
        );
        let upgrade: &[u8] = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(notes_for(&[upgrade]), [false]);
    }
}
