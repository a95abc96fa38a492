//! Parsing and checking an HTTP/1 request head (RFC 9112). Everything that decides where the
//! request ends is checked strictly here, because the next request on the connection starts
//! where this one's body ends: a head that two servers could frame differently (request
//! smuggling) is refused, never guessed at.
//!
//! Refused with 400: `Content-Length` together with `Transfer-Encoding`, differing or malformed
//! `Content-Length` values, a `Transfer-Encoding` whose final coding is not `chunked` (or any in
//! HTTP/1.0), obsolete line folding, a line ending in a bare LF instead of CRLF, more than one
//! `Host` (in any version) or none in HTTP/1.1, a malformed request line or header (chunk-size lines are checked
//! as strictly, in [`crate::forward::http1::chunk_line`]). With 431: a head over [`MAX_HEAD_BYTES`] or with more than
//! [`MAX_HEADERS`] lines. With 501: `CONNECT`, transfer codings other than `chunked`. With 505:
//! versions other than HTTP/1.0 and 1.1. With 417: expectations other than `100-continue`.

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::uri::{Authority, PathAndQuery};
use http::{Method, StatusCode, Uri, Version};

use crate::forward::http1::raw_headers::{NameKind, RawHeaders, RawHeadersBuilder};

/// The largest request head accepted.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most header lines a request head may have.
pub const MAX_HEADERS: usize = 100;

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFraming {
    /// No body.
    Empty,
    /// Exactly this many bytes (more than 0).
    Length(u64),
    /// Chunked.
    Chunked,
}

/// A checked request head.
#[derive(Debug)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The target's path and query.
    pub target: PathAndQuery,
    /// The authority of an absolute-form target.
    pub target_authority: Option<Authority>,
    /// The header lines, each classified.
    pub headers: RawHeaders,
    /// How the body is delimited.
    pub framing: RequestFraming,
    /// Whether the client wants the connection kept open after this exchange.
    pub keep_alive: bool,
    /// Whether the client waits for `100 Continue` before sending its body.
    pub expect_continue: bool,
}

/// Why a request head is refused: the answer, after which the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The status sent.
    pub status: StatusCode,
    /// Why, for the JSON body and the access log.
    pub reason: &'static str,
}

const fn refuse(status: StatusCode, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

const TOO_LARGE: Refusal = refuse(
    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    "the request head is larger than 64 KiB or has more than 100 header lines",
);

/// Parses the head at the start of `buffer` and removes it from the buffer when complete;
/// `Ok(None)` when more bytes are needed. Empty lines before the request line are skipped
/// (RFC 9112 §2.2).
pub fn parse_request_head(buffer: &mut BytesMut) -> Result<Option<RequestHead>, Refusal> {
    // Uninitialized slots: zeroing 100 headers per request would cost more than parsing.
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_request_with_uninit_headers(&mut request, buffer, &mut slots)
        .map_err(|error| match error {
            httparse::Error::TooManyHeaders => TOO_LARGE,
            httparse::Error::Version => refuse(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "only HTTP/1.0 and HTTP/1.1 are served on this connection",
            ),
            _ => refuse(StatusCode::BAD_REQUEST, "the request head is malformed"),
        })?;
    let length = match parsed {
        httparse::Status::Partial if buffer.len() > MAX_HEAD_BYTES => return Err(TOO_LARGE),
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(length) if length > MAX_HEAD_BYTES => return Err(TOO_LARGE),
        httparse::Status::Complete(length) => length,
    };
    let (Some(method), Some(target), Some(minor)) = (request.method, request.path, request.version)
    else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "the request line is malformed",
        ));
    };
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    check_line_endings(buffer, length, method, request.headers)?;
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| refuse(StatusCode::BAD_REQUEST, "the method is malformed"))?;
    if method == Method::CONNECT {
        return Err(refuse(
            StatusCode::NOT_IMPLEMENTED,
            "CONNECT is not supported",
        ));
    }
    let mut lines = RawHeadersBuilder::new(buffer.as_ptr(), request.headers.len());
    let mut facts = HeaderFacts::default();
    for header in request.headers.iter() {
        let kind = lines.push(header.name.as_bytes(), header.value);
        facts.observe(kind, header.value)?;
    }
    let framing = facts.framing(version)?;
    let expect_continue = match facts.expect {
        Expectation::None => false,
        Expectation::Continue => version == Version::HTTP_11,
        Expectation::Other => {
            return Err(refuse(
                StatusCode::EXPECTATION_FAILED,
                "the only expectation served is 100-continue",
            ))
        }
    };
    // RFC 9112 §3.2: more than one Host is refused in any version (an HTTP/1.0 request would
    // otherwise be forwarded as HTTP/1.1 with both, and a neighbour may route by either); none
    // only in HTTP/1.1.
    if facts.hosts > 1 || version == Version::HTTP_11 && facts.hosts == 0 {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "a request needs exactly one Host header (HTTP/1.0 may have none)",
        ));
    }
    let keep_alive = !facts.close && (version == Version::HTTP_11 || facts.keep_alive);
    // Offsets of the target within the head, so it can share the head's memory.
    let target_at = target.as_ptr() as usize - buffer.as_ptr() as usize;
    let target_len = target.len();
    let head = buffer.split_to(length).freeze();
    let target_bytes = head.slice(target_at..target_at + target_len);
    let (target, target_authority) = if target_bytes.first() == Some(&b'/') {
        let path = PathAndQuery::from_maybe_shared(target_bytes)
            .map_err(|_| refuse(StatusCode::BAD_REQUEST, "the request target is malformed"))?;
        (path, None)
    } else {
        absolute_form(target_bytes)?
    };
    let mut headers = lines.finish(head);
    if facts.names_others {
        headers.mark_named_by_connection();
    }
    Ok(Some(RequestHead {
        method,
        version,
        target,
        target_authority,
        headers,
        framing,
        keep_alive,
        expect_continue,
    }))
}

/// Every line of the head (`length` bytes at the start of `buffer`) ends in CRLF: httparse also
/// accepts a bare LF, which RFC 9112 §2.2 lets a recipient refuse and a proxy must, since a
/// neighbour that splits lines differently reads different headers. Checked per line from the
/// slices httparse returns (each header line follows a CRLF, the head ends with an empty CRLF
/// line, and any empty lines before the request line are CRLFs) rather than by scanning the head.
fn check_line_endings(
    buffer: &[u8],
    length: usize,
    method: &str,
    headers: &[httparse::Header<'_>],
) -> Result<(), Refusal> {
    let bare_lf = || {
        refuse(
            StatusCode::BAD_REQUEST,
            "a line of the request head ends in a bare LF, not CRLF",
        )
    };
    let base = buffer.as_ptr() as usize;
    let leading = &buffer[..method.as_ptr() as usize - base];
    if !leading.chunks(2).all(|pair| pair == b"\r\n") {
        return Err(bare_lf());
    }
    for header in headers {
        let at = header.name.as_ptr() as usize - base;
        if at < 2 || &buffer[at - 2..at] != b"\r\n" {
            return Err(bare_lf());
        }
    }
    if !buffer[..length].ends_with(b"\r\n\r\n") {
        return Err(bare_lf());
    }
    Ok(())
}

/// `http://host/path` (what a client talking to a proxy may send) or `*` (`OPTIONS *`).
fn absolute_form(target: bytes::Bytes) -> Result<(PathAndQuery, Option<Authority>), Refusal> {
    let malformed = refuse(StatusCode::BAD_REQUEST, "the request target is malformed");
    if &target[..] == b"*" {
        return Ok((PathAndQuery::from_static("*"), None));
    }
    let uri = Uri::from_maybe_shared(target).map_err(|_| malformed)?;
    let authority = uri.authority().cloned().ok_or(malformed)?;
    if uri.scheme().is_none() {
        return Err(malformed);
    }
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    Ok((path, Some(authority)))
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Expectation {
    #[default]
    None,
    Continue,
    Other,
}

/// What the framing and connection headers say, gathered in one pass.
#[derive(Debug, Default)]
struct HeaderFacts {
    length: Option<u64>,
    /// `Transfer-Encoding` was present.
    transfer_encoding: bool,
    /// Codings seen, and whether the last one was `chunked`.
    codings: u32,
    chunked_last: bool,
    chunked_seen: u32,
    hosts: u32,
    close: bool,
    keep_alive: bool,
    names_others: bool,
    expect: Expectation,
}

impl HeaderFacts {
    fn observe(&mut self, kind: NameKind, value: &[u8]) -> Result<(), Refusal> {
        match kind {
            NameKind::ContentLength => {
                for part in value.split(|b| *b == b',') {
                    let digits = part.trim_ascii();
                    let parsed = parse_length(digits).ok_or(refuse(
                        StatusCode::BAD_REQUEST,
                        "the Content-Length is malformed",
                    ))?;
                    if self.length.is_some_and(|seen| seen != parsed) {
                        return Err(refuse(
                            StatusCode::BAD_REQUEST,
                            "the request has differing Content-Length values",
                        ));
                    }
                    self.length = Some(parsed);
                }
            }
            NameKind::TransferEncoding => {
                self.transfer_encoding = true;
                for coding in value.split(|b| *b == b',') {
                    let coding = coding.trim_ascii();
                    if coding.is_empty() {
                        continue;
                    }
                    self.codings += 1;
                    self.chunked_last = coding.eq_ignore_ascii_case(b"chunked");
                    if self.chunked_last {
                        self.chunked_seen += 1;
                    }
                }
            }
            NameKind::Connection => {
                for token in value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    if token.eq_ignore_ascii_case(b"close") {
                        self.close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        self.keep_alive = true;
                    } else if !token.is_empty() {
                        self.names_others = true;
                    }
                }
            }
            NameKind::Host => self.hosts += 1,
            NameKind::Expect => {
                self.expect = if value.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                    Expectation::Continue
                } else {
                    Expectation::Other
                };
            }
            _ => {}
        }
        Ok(())
    }

    fn framing(&self, version: Version) -> Result<RequestFraming, Refusal> {
        if self.transfer_encoding {
            if self.length.is_some() {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "both Content-Length and Transfer-Encoding are present",
                ));
            }
            if version == Version::HTTP_10 {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "Transfer-Encoding is not allowed in HTTP/1.0",
                ));
            }
            if !self.chunked_last {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "the final transfer coding is not chunked",
                ));
            }
            if self.codings != 1 || self.chunked_seen != 1 {
                return Err(refuse(
                    StatusCode::NOT_IMPLEMENTED,
                    "the only transfer coding served is chunked",
                ));
            }
            return Ok(RequestFraming::Chunked);
        }
        Ok(match self.length {
            None | Some(0) => RequestFraming::Empty,
            Some(n) => RequestFraming::Length(n),
        })
    }
}

/// A `Content-Length` value: decimal digits only, no sign, no more than fit in a u64.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RequestHead, Refusal> {
        let mut buffer = BytesMut::from(text);
        Ok(parse_request_head(&mut buffer)?.unwrap_or_else(|| panic!("partial: {text:?}")))
    }

    fn status(text: &str) -> u16 {
        parse(text).unwrap_err().status.as_u16()
    }

    #[test]
    fn a_simple_head_is_parsed_and_removed_from_the_buffer() {
        let mut buffer = BytesMut::from("\r\nGET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-K: v\r\n\r\nNEXT");
        let head = parse_request_head(&mut buffer).unwrap().unwrap();
        assert_eq!(head.method, Method::GET);
        assert_eq!(head.target.as_str(), "/a?b=1");
        assert_eq!(head.headers.get(b"x-k"), Some(&b"v"[..]));
        assert_eq!(head.framing, RequestFraming::Empty);
        assert!(head.keep_alive);
        assert_eq!(&buffer[..], b"NEXT");
    }

    #[test]
    fn partial_heads_wait() {
        let mut buffer = BytesMut::from("GET / HTTP/1.1\r\nHost: x\r\n");
        assert!(matches!(parse_request_head(&mut buffer), Ok(None)));
        assert_eq!(buffer.len(), 25);
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        let both =
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(both), 400);
        let differing =
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
        assert_eq!(status(differing), 400);
        for bad in ["+3", "-1", "3 3", "0x3", "", "99999999999999999999"] {
            let text = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {bad}\r\n\r\n");
            assert_eq!(status(&text), 400, "{bad:?}");
        }
        let not_last = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
        assert_eq!(status(not_last), 400);
        let twice = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(twice), 501);
        let http10 = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(http10), 400);
        let folded = "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n";
        assert_eq!(status(folded), 400);
        let space_before_colon = "GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n";
        assert_eq!(status(space_before_colon), 400);
    }

    #[test]
    fn a_bare_line_feed_ending_any_line_of_the_head_is_refused() {
        // RFC 9112 §2.2: a recipient MAY recognize a bare LF as a line terminator; a proxy does
        // not, because the server behind it may not either.
        for bad in [
            "GET / HTTP/1.1\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n\n",
            "GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\n\r\n",
            "GET / HTTP/1.0\n\n",
            "GET / HTTP/1.0\r\n\n",
            "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        ] {
            let refusal = parse(bad).unwrap_err();
            assert_eq!(refusal.status, 400, "{bad:?}");
        }
        assert!(parse("\r\n\r\nGET / HTTP/1.0\r\n\r\n").is_ok());
    }

    #[test]
    fn equal_repeated_lengths_are_one_length() {
        let head = parse(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.framing, RequestFraming::Length(5));
        let head =
            parse("POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: Chunked\r\n\r\n").unwrap();
        assert_eq!(head.framing, RequestFraming::Chunked);
    }

    #[test]
    fn host_rules_follow_the_version() {
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert!(parse("GET / HTTP/1.0\r\n\r\n").is_ok());
        // Two in HTTP/1.0 too: it would be forwarded as HTTP/1.1 with both.
        assert_eq!(status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(
            parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(
            !parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap()
                .keep_alive
        );
    }

    #[test]
    fn connection_named_headers_are_marked_hop_by_hop() {
        let head = parse(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: x-hop\r\nX-Hop: 1\r\nX-Kept: 2\r\n\r\n",
        )
        .unwrap();
        let kinds: Vec<NameKind> = head.headers.iter().map(|(_, _, k)| k).collect();
        assert_eq!(
            kinds,
            [
                NameKind::Host,
                NameKind::Connection,
                NameKind::NamedByConnection,
                NameKind::Other
            ]
        );
    }

    #[test]
    fn expectations_and_methods_and_versions() {
        let head =
            parse("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
                .unwrap();
        assert!(head.expect_continue);
        assert_eq!(
            status("PUT / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n"),
            417
        );
        assert_eq!(status("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"), 501);
        assert_eq!(status("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
        assert_eq!(status("GET /\u{1}a HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
    }

    #[test]
    fn an_absolute_target_names_the_authority() {
        let head = parse("GET http://api.test:8080/a?b HTTP/1.1\r\nHost: other\r\n\r\n").unwrap();
        assert_eq!(head.target.as_str(), "/a?b");
        assert_eq!(head.target_authority.unwrap().as_str(), "api.test:8080");
        assert_eq!(status("GET api.test/a HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        let star = parse("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(star.target.as_str(), "*");
    }

    #[test]
    fn oversized_and_overfull_heads_get_431() {
        let mut text = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
        for i in 0..=MAX_HEADERS {
            text.push_str(&format!("X-{i}: v\r\n"));
        }
        text.push_str("\r\n");
        assert_eq!(status(&text), 431);
        let mut buffer =
            BytesMut::from(format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_BYTES)).as_str());
        assert_eq!(
            parse_request_head(&mut buffer).unwrap_err().status.as_u16(),
            431
        );
    }
}
