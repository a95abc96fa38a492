//! Messages for the wire tests: HTTP/1.1 requests as clients send them (mostly well-formed, with
//! the headers that decide framing), chunked bodies, and byte edits that turn a well-formed
//! message into a tricky one. `wire_any_bytes.rs` feeds them to the parsers, `hostile_wire.rs`
//! to a meshd process.
#![allow(dead_code)]

use proptest::prelude::*;

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
