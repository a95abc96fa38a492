//! Parsing a response head and deciding how its body is delimited and whether the connection can
//! be reused afterwards (RFC 9112 §6.3).

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::{StatusCode, Version};

use super::raw_headers::{NameKind, RawHeaders, RawHeadersBuilder};

/// The largest response head accepted.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most response header lines accepted.
const MAX_HEADERS: usize = 128;

/// How the response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked.
    Chunked,
    /// Until the upstream closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
pub struct ResponseHead {
    /// The status.
    pub status: StatusCode,
    /// The HTTP version the upstream spoke.
    pub version: Version,
    /// The header lines as received, without hop-by-hop ones (sharing the read buffer's memory).
    pub headers: RawHeaders,
    /// How the body is delimited.
    pub framing: ResponseFraming,
    /// Whether the connection may serve another request after this body.
    pub keep_alive: bool,
}

/// What parsing found in the buffer.
#[derive(Debug)]
// Returned once per response and consumed at once: boxing the head would cost an allocation.
#[allow(clippy::large_enum_variant)]
pub enum HeadParse {
    /// A complete head, removed from the buffer.
    Complete(ResponseHead),
    /// More bytes are needed.
    Partial,
}

/// Why a response head is unusable.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// Not HTTP/1.x.
    #[error("malformed response head: {0}")]
    Malformed(#[from] httparse::Error),
    /// Over [`MAX_HEAD_BYTES`].
    #[error("the response head is larger than {MAX_HEAD_BYTES} bytes")]
    TooLarge,
    /// A header name or value http cannot hold, or a bad status.
    #[error("the response head has an invalid {0}")]
    Invalid(&'static str),
    /// Content-Length headers that disagree, or one that is not a number.
    #[error("the response has an invalid Content-Length")]
    BadLength,
    /// `101 Switching Protocols`: upgrades are not forwarded.
    #[error("the upstream switched protocols, which meshd does not forward")]
    Upgrade,
}

/// Parses a head at the start of `buffer`; 1xx interim responses are consumed and skipped.
/// `head_request` says the request was `HEAD` (its response has no body).
pub fn parse_head(buffer: &mut BytesMut, head_request: bool) -> Result<HeadParse, HeadError> {
    loop {
        // Uninitialized slots: zeroing 128 headers per response would cost more than parsing.
        let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            buffer,
            &mut slots,
        )?;
        let length = match parsed {
            httparse::Status::Partial if buffer.len() > MAX_HEAD_BYTES => {
                return Err(HeadError::TooLarge)
            }
            httparse::Status::Partial => return Ok(HeadParse::Partial),
            httparse::Status::Complete(length) if length > MAX_HEAD_BYTES => {
                return Err(HeadError::TooLarge)
            }
            httparse::Status::Complete(length) => length,
        };
        let code = response.code.ok_or(HeadError::Invalid("status"))?;
        let version = if response.version == Some(0) {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        if code == 101 {
            return Err(HeadError::Upgrade);
        }
        if (100..200).contains(&code) {
            let _ = buffer.split_to(length);
            continue;
        }
        // RFC 9110 §15: codes outside 100..=599 are invalid, and a client SHOULD treat them as
        // 5xx; a proxy passing one on would hand its client an invalid response.
        if code > 599 {
            return Err(HeadError::Invalid("status (outside 100-599)"));
        }
        let status = StatusCode::from_u16(code).map_err(|_| HeadError::Invalid("status"))?;
        let mut lines = RawHeadersBuilder::new(buffer.as_ptr(), response.headers.len());
        let mut facts = FramingFacts::new(version);
        for header in response.headers.iter() {
            let kind = lines.push(header.name.as_bytes(), header.value);
            facts.observe(kind, header.value)?;
        }
        let mut headers = lines.finish(buffer.split_to(length).freeze());
        if facts.names_others {
            headers.mark_named_by_connection();
        }
        // Hop-by-hop headers describe this connection, not the response: never forwarded. A
        // length that Transfer-Encoding overrides is dropped too (RFC 9112 §6.3).
        let length_overridden = facts.chunked.is_some();
        headers.retain(|_, kind| {
            !(kind.is_hop_by_hop() || length_overridden && kind == NameKind::ContentLength)
        });
        let framing = facts.framing(status, head_request);
        let keep_alive = facts.keep_alive() && framing != ResponseFraming::UntilClose;
        return Ok(HeadParse::Complete(ResponseHead {
            status,
            version,
            headers,
            framing,
            keep_alive,
        }));
    }
}

/// What the framing headers of a response say, gathered in one pass.
struct FramingFacts {
    length: Option<u64>,
    chunked: Option<bool>,
    /// HTTP/1.1 keeps connections open unless told otherwise; HTTP/1.0 only when asked.
    open_by_default: bool,
    keep_alive_asked: bool,
    close_asked: bool,
    /// Whether `Connection` names other headers (hop-by-hop too).
    names_others: bool,
}

impl FramingFacts {
    fn new(version: Version) -> Self {
        FramingFacts {
            length: None,
            chunked: None,
            open_by_default: version != Version::HTTP_10,
            keep_alive_asked: false,
            close_asked: false,
            names_others: false,
        }
    }

    fn keep_alive(&self) -> bool {
        !self.close_asked && (self.open_by_default || self.keep_alive_asked)
    }

    fn observe(&mut self, kind: NameKind, value: &[u8]) -> Result<(), HeadError> {
        if kind == NameKind::ContentLength {
            for part in value.split(|b| *b == b',') {
                let parsed = std::str::from_utf8(part.trim_ascii())
                    .ok()
                    .and_then(|t| t.parse::<u64>().ok())
                    .ok_or(HeadError::BadLength)?;
                if self.length.is_some_and(|l| l != parsed) {
                    return Err(HeadError::BadLength);
                }
                self.length = Some(parsed);
            }
        } else if kind == NameKind::TransferEncoding {
            // The last coding decides (RFC 9112 §6.3).
            self.chunked = Some(
                value
                    .rsplit(|b| *b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked")),
            );
        } else if kind == NameKind::Connection {
            for token in value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    self.close_asked = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive_asked = true;
                } else if !token.is_empty() {
                    self.names_others = true;
                }
            }
        }
        Ok(())
    }

    fn framing(&self, status: StatusCode, head_request: bool) -> ResponseFraming {
        if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            return ResponseFraming::Empty;
        }
        match (self.chunked, self.length) {
            (Some(true), _) => ResponseFraming::Chunked,
            (Some(false), _) | (None, None) => ResponseFraming::UntilClose,
            (None, Some(0)) => ResponseFraming::Empty,
            (None, Some(n)) => ResponseFraming::Length(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, head_request: bool) -> (ResponseHead, BytesMut) {
        let mut buffer = BytesMut::from(text);
        match parse_head(&mut buffer, head_request).unwrap() {
            HeadParse::Complete(head) => (head, buffer),
            HeadParse::Partial => panic!("partial"),
        }
    }

    #[test]
    fn a_status_past_599_is_invalid() {
        let mut buffer = BytesMut::from("HTTP/1.1 999 Beyond\r\nContent-Length: 0\r\n\r\n");
        let error = parse_head(&mut buffer, false).unwrap_err();
        assert!(matches!(error, HeadError::Invalid(_)), "{error}");
        let (head, _) = parse("HTTP/1.1 599 Edge\r\nContent-Length: 0\r\n\r\n", false);
        assert_eq!(head.status, 599);
    }

    #[test]
    fn a_length_delimited_response_keeps_the_connection_and_leaves_the_body() {
        let (head, rest) = parse(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
            false,
        );
        assert_eq!(head.status, 200);
        assert_eq!(head.framing, ResponseFraming::Length(5));
        assert!(head.keep_alive);
        assert_eq!(head.headers.get(b"x-a"), Some(&b"b"[..]));
        assert_eq!(&rest[..], b"hello");
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_dropped() {
        let (head, _) = parse(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive, x-secret\r\nKeep-Alive: timeout=5\r\nX-Secret: 1\r\nX-Kept: 2\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        let names: Vec<&[u8]> = head.headers.iter().map(|(n, _, _)| n).collect();
        assert_eq!(names, [&b"X-Kept"[..], &b"Content-Length"[..]]);
        assert!(head.keep_alive);
    }

    #[test]
    fn interim_responses_are_skipped() {
        let (head, _) = parse(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            false,
        );
        assert_eq!(head.status, 204);
        assert_eq!(head.framing, ResponseFraming::Empty);
    }

    #[test]
    fn chunked_wins_and_no_length_means_until_close() {
        let (head, _) = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
            false,
        );
        assert_eq!(head.framing, ResponseFraming::Chunked);
        let (head, _) = parse("HTTP/1.1 200 OK\r\n\r\n", false);
        assert_eq!(head.framing, ResponseFraming::UntilClose);
        assert!(!head.keep_alive);
    }

    #[test]
    fn close_and_http10_end_keep_alive() {
        let (head, _) = parse(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert!(!head.keep_alive);
        let (head, _) = parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false);
        assert!(!head.keep_alive);
        let (head, _) = parse(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert!(head.keep_alive);
    }

    #[test]
    fn a_head_request_has_no_body_whatever_the_length_says() {
        let (head, _) = parse("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true);
        assert_eq!(head.framing, ResponseFraming::Empty);
    }

    #[test]
    fn partial_heads_wait_and_bad_lengths_fail() {
        let mut buffer = BytesMut::from("HTTP/1.1 200 OK\r\nContent-Le");
        assert!(matches!(
            parse_head(&mut buffer, false),
            Ok(HeadParse::Partial)
        ));
        let mut buffer =
            BytesMut::from("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
        assert!(matches!(
            parse_head(&mut buffer, false),
            Err(HeadError::BadLength)
        ));
        let mut buffer = BytesMut::from("HTTP/1.1 101 Switching Protocols\r\n\r\n");
        assert!(matches!(
            parse_head(&mut buffer, false),
            Err(HeadError::Upgrade)
        ));
    }

    #[test]
    fn a_complete_head_over_64_kib_is_refused_even_in_one_read() {
        let big = format!(
            "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 0\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        let mut buffer = BytesMut::from(big.as_str());
        assert!(matches!(
            parse_head(&mut buffer, false),
            Err(HeadError::TooLarge)
        ));
    }
}
