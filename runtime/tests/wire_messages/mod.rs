//! Messages for the wire tests: HTTP/1.1 requests as clients send them (mostly well-formed, with
//! the headers that decide framing), chunked bodies, and byte edits that turn a well-formed
//! message into a tricky one; and a reader of what meshd answers that accepts only well-formed
//! HTTP/1.1. `wire_any_bytes.rs` feeds the messages to the parsers, `hostile_wire.rs` to a meshd
//! process.
#![allow(dead_code)]

pub mod scripted_upstream;
pub mod strict_upstream;

use bytes::BytesMut;
use meshd::forward::http1::body_decoder::{BodyDecoder, Decoded};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use proptest::prelude::*;

/// What a hostile peer sends: arbitrary bytes one time in five, else one of `messages` with up
/// to three byte edits.
pub fn hostile(messages: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..400),
        4 => (messages, prop::collection::vec(edit(), 0..4))
            .prop_map(|(message, edits)| apply(message, &edits)),
    ]
}

/// A runner of `cases` cases that keeps no regression file (each run draws anew, and a failure
/// prints its input).
pub fn runner(cases: u32) -> proptest::test_runner::TestRunner {
    proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })
}

/// A byte edit at a position (taken modulo the input's length).
#[derive(Debug, Clone)]
pub enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Repeat(usize, usize),
}

/// Bytes that matter to HTTP/1.1 framing, most likely to turn a valid message into a tricky one.
pub const SHARP: &[u8] = b"\r\n :\t,;\"=\0\x7f\x80\xff0aF-/%";

pub fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![3 => prop::sample::select(SHARP), 1 => any::<u8>()];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, b)| Edit::Replace(at, b)),
        (any::<usize>(), byte).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<usize>(), 1..8usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), 1..24usize).prop_map(|(at, n)| Edit::Repeat(at, n)),
    ]
}

pub fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len().max(1);
        match *edit {
            Edit::Replace(at, b) if !bytes.is_empty() => bytes[at % len] = b,
            Edit::Insert(at, b) => bytes.insert(at % (bytes.len() + 1), b),
            Edit::Delete(at, n) if !bytes.is_empty() => {
                let at = at % len;
                bytes.drain(at..(at + n).min(bytes.len()));
            }
            Edit::Repeat(at, n) if !bytes.is_empty() => {
                let at = at % len;
                let piece = bytes[at..(at + n).min(bytes.len())].to_vec();
                bytes.splice(at..at, piece);
            }
            _ => {}
        }
    }
    bytes
}

/// Header lines whose names and values decide framing, or that a smuggler would try: mostly
/// lines a client would send, sometimes a name with another name's value.
pub fn header_line() -> impl Strategy<Value = String> {
    let typical = prop::sample::select(vec![
        "Content-Length: 5",
        "Transfer-Encoding: chunked",
        "Connection: close",
        "Connection: keep-alive",
        "Expect: 100-continue",
        "X-Trace: abc",
        "Upgrade: websocket",
        "Connection: upgrade",
    ])
    .prop_map(str::to_string);
    let name = prop::sample::select(vec![
        "Host",
        "Content-Length",
        "content-length",
        "Transfer-Encoding",
        "Connection",
        "Expect",
        "Keep-Alive",
        "X-Trace",
        "Upgrade",
    ]);
    let value = prop::sample::select(vec![
        "edge",
        "0",
        "5",
        "5, 5",
        "5,6",
        "+5",
        "-1",
        "18446744073709551616",
        "chunked",
        "gzip, chunked",
        "chunked, chunked",
        "chunked, gzip",
        "close",
        "keep-alive, x-trace",
        "upgrade",
        "100-continue",
        "",
        "websocket",
    ]);
    let odd = (name, value).prop_map(|(name, value)| format!("{name}: {value}"));
    prop_oneof![3 => typical, 1 => odd]
}

/// A protocol version, mostly one meshd serves.
pub fn version(
    good: &'static [&'static str],
    odd: &'static [&'static str],
) -> impl Strategy<Value = &'static str> {
    prop_oneof![6 => prop::sample::select(good), 1 => prop::sample::select(odd)]
}

/// An HTTP/1.1 request as a client might send it (often well-formed, sometimes not), with a
/// chunked or plain body.
pub fn request_message() -> impl Strategy<Value = Vec<u8>> {
    let method = prop_oneof![
        6 => prop::sample::select(vec!["GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE"]),
        1 => prop::sample::select(vec!["CONNECT", "BREW", "get"]),
    ];
    let target = prop::sample::select(vec![
        "/",
        "/officers/7?x=1",
        "/cel/x?q=%ff",
        "/limited",
        "//admin",
        "/%2e%2e/admin",
        "*",
        "http://edge/ping",
        "edge:80",
    ]);
    let version = version(
        &["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"],
        &["HTTP/2.0", "HTTP/1.9"],
    );
    (
        method,
        target,
        version,
        prop::collection::vec(header_line(), 0..6),
        chunked_body(),
    )
        .prop_map(|(method, target, version, headers, body)| {
            let mut text = format!("{method} {target} {version}\r\nHost: edge\r\n");
            for line in headers {
                text.push_str(&line);
                text.push_str("\r\n");
            }
            text.push_str("\r\n");
            let mut bytes = text.into_bytes();
            bytes.extend_from_slice(&body);
            bytes
        })
}

/// A chunked body: chunks (some with extensions), the last chunk, trailers.
pub fn chunked_body() -> impl Strategy<Value = Vec<u8>> {
    let chunk = (
        prop::collection::vec(any::<u8>(), 1..40),
        prop::sample::select(vec!["", ";a=1", " ; name=\"v\"", ";x"]),
    );
    (
        prop::collection::vec(chunk, 0..4),
        prop::collection::vec(
            prop::sample::select(vec!["X-Sum: 1", "X-Long: ", "a: b"]),
            0..3,
        ),
    )
        .prop_map(|(chunks, trailers)| encode_chunked(&chunks, &trailers))
}

pub fn encode_chunked(chunks: &[(Vec<u8>, &str)], trailers: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for (data, extension) in chunks {
        out.extend_from_slice(format!("{:x}{extension}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    for trailer in trailers {
        out.extend_from_slice(trailer.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A response head as an upstream might send it, with interim responses in front at times.
pub fn response_message() -> impl Strategy<Value = Vec<u8>> {
    let status = prop_oneof![
        6 => prop::sample::select(vec!["200 OK", "204 No Content", "304 Not Modified", "404 Not Found", "103 Early Hints"]),
        1 => prop::sample::select(vec!["101 Switching Protocols", "599 Odd", "999 Beyond", "20 Short"]),
    ];
    let version = version(&["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"], &["HTTP/2"]);
    (
        version,
        status,
        prop::collection::vec(header_line(), 0..6),
        any::<bool>(),
    )
        .prop_map(|(version, status, headers, interim)| {
            let mut text = String::new();
            if interim {
                text.push_str("HTTP/1.1 100 Continue\r\n\r\n");
            }
            text.push_str(&format!("{version} {status}\r\n"));
            for line in headers {
                text.push_str(&line);
                text.push_str("\r\n");
            }
            text.push_str("\r\n");
            text.into_bytes()
        })
}

/// A whole response as an upstream might send it: a head from [`response_message`] and a body
/// that its framing may or may not describe (none, five bytes, or chunks).
pub fn response_with_body() -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![Just(Vec::new()), Just(b"hello".to_vec()), chunked_body(),];
    (response_message(), body).prop_map(|(head, body)| [head, body].concat())
}

/// One response meshd sent.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub from_upstream: bool,
    /// Said `Connection: close`.
    pub closes: bool,
    /// The JSON `reason` of meshd's own refusals.
    pub reason: String,
    /// The body ended with the connection before its framing said (the last response only).
    pub truncated: bool,
}

/// Splits what meshd sent on one connection, until it closed, into responses, failing on
/// anything that is not well-formed HTTP/1.1. `head_request`: the first request was `HEAD`.
pub fn read_responses(mut bytes: &[u8], head_request: bool) -> Result<Vec<Answer>, String> {
    let mut answers = Vec::new();
    while !bytes.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let length = match response.parse(bytes) {
            Ok(httparse::Status::Complete(length)) => length,
            other => {
                return Err(format!(
                    "not a response head ({other:?}): {:?}",
                    String::from_utf8_lossy(bytes)
                ))
            }
        };
        let status = response.code.unwrap_or(0);
        if response.version != Some(1) {
            return Err(format!(
                "not HTTP/1.1: {:?}",
                String::from_utf8_lossy(bytes)
            ));
        }
        if !bytes[..length]
            .windows(2)
            .all(|w| w[1] != b'\n' || w[0] == b'\r')
        {
            return Err("a response line ends in a bare LF".to_string());
        }
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).into_owned())
        };
        let from_upstream = header("x-upstream").is_some();
        let closes = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let chunked =
            header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let content_length = header("content-length").map(|v| v.parse::<usize>());
        bytes = &bytes[length..];
        if status == 101 {
            // Switching Protocols: what follows is the tunnel's, not HTTP.
            answers.push(Answer {
                status,
                from_upstream,
                closes,
                reason: String::new(),
                truncated: false,
            });
            return Ok(answers);
        }
        if (100..200).contains(&status) {
            continue; // 100 Continue: the final answer follows.
        }
        // A head that meshd refused may have said HEAD, but meshd could not read it as one: the
        // refusal has its JSON body. Answers to a HEAD it read have none.
        let mut reason = String::new();
        let refused_unread = head_request && bytes.first() == Some(&b'{');
        let no_body = head_request && !refused_unread || status == 204 || status == 304;
        if !no_body {
            let mut decoder = match (chunked, content_length) {
                (true, None) => BodyDecoder::chunked(),
                (false, Some(Ok(n))) => BodyDecoder::with_length(n as u64),
                // Delimited by the close it announces.
                (false, None) if closes => BodyDecoder::with_length(bytes.len() as u64),
                (false, None) => return Err(format!("{status} without framing")),
                _ => return Err(format!("{status} with contradictory framing")),
            };
            let mut buffer = BytesMut::from(bytes);
            loop {
                match decoder.decode(&mut buffer) {
                    Ok(Decoded::Data(_)) => {}
                    Ok(Decoded::Done) => break,
                    Ok(Decoded::NeedMore) => {
                        answers.push(Answer {
                            status,
                            from_upstream,
                            closes,
                            reason,
                            truncated: true,
                        });
                        return Ok(answers);
                    }
                    Err(_) => return Err(format!("{status}: its body is not well-formed chunks")),
                }
            }
            let left = buffer.len();
            let body = &bytes[..bytes.len() - left];
            reason = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["reason"].as_str().map(str::to_string))
                .unwrap_or_default();
            bytes = &bytes[bytes.len() - left..];
        }
        answers.push(Answer {
            status,
            from_upstream,
            closes,
            reason,
            truncated: false,
        });
    }
    Ok(answers)
}

/// How long a case may go without meshd answering or closing: a hang is a failure.
pub const HANG: Duration = Duration::from_secs(30);

/// Sends `bytes` on a new connection, closes it for writing, and reads everything meshd sends
/// until it closes.
pub fn exchange(edge: SocketAddr, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut stream = TcpStream::connect(edge).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(HANG)).unwrap();
    // meshd may refuse and close before everything is written: what it read decides.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    read_until_closed(&mut stream)
}

/// What meshd sends on `stream` until it closes the connection (a reset after its answer counts as
/// a close); an error when it neither answers nor closes within [`HANG`].
pub fn read_until_closed(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    stream.set_read_timeout(Some(HANG)).unwrap();
    let mut answer = Vec::new();
    loop {
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(answer),
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(answer),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return Err(format!("meshd neither answered nor closed within {HANG:?}"))
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Refusals of a request meshd could not frame: the connection must close after them, since
/// where the next request would start is not known. These are the statuses only the head and
/// body parsers give, and the 400s whose reason is theirs.
pub fn closes_the_connection(status: u16) -> bool {
    matches!(status, 417 | 431 | 501 | 505)
}

pub fn is_framing_refusal(answer: &Answer) -> bool {
    const FRAMING: [&str; 8] = [
        "head is malformed",
        "request line",
        "bare LF",
        "Content-Length",
        "Transfer-Encoding",
        "transfer coding",
        "exactly one Host header",
        "chunk",
    ];
    !answer.from_upstream
        && (closes_the_connection(answer.status)
            || answer.status == 400 && FRAMING.iter().any(|f| answer.reason.contains(f)))
}
