//! A meshd process under hostile HTTP/2 (h2c with prior knowledge): the connection preface, a
//! SETTINGS frame, and one or two requests (HEADERS with hand-encoded HPACK literals, DATA),
//! built from pseudo-headers and headers HTTP/2 forbids or that a smuggler would try
//! (`transfer-encoding`, `connection`, a `content-length` the body contradicts, a `host` beside
//! `:authority`), the header blocks edited byte by byte, and arbitrary bytes after the preface. meshd turns HTTP/2 requests into
//! HTTP/1.1 ones for its upstream, so whatever it forwards must be read whole by a strict
//! HTTP/1.1 parser (meshd's own, in the test's upstream); a connection that starts with the
//! preface is answered with HTTP/2 (a SETTINGS frame first) or closed; meshd stays up without a
//! panic and serves an ordinary request afterwards.

#[allow(dead_code)] // shared with the fleet tests, which use all of it
#[path = "fleet_support/meshd_process.rs"]
mod meshd_process;
mod wire_messages;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use meshd_process::MeshdProcess;
use proptest::prelude::*;
use wire_messages::strict_upstream::StrictUpstream;
use wire_messages::*;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const SETTINGS: u8 = 4;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An HPACK string literal (not Huffman-coded), its length as a 7-bit prefixed integer.
fn hpack_string(out: &mut Vec<u8>, text: &[u8]) {
    let len = text.len();
    if len < 127 {
        out.push(len as u8);
    } else {
        out.push(127);
        let mut rest = len - 127;
        while rest >= 128 {
            out.push((rest % 128) as u8 | 0x80);
            rest /= 128;
        }
        out.push(rest as u8);
    }
    out.extend_from_slice(text);
}

/// A header block of literals without indexing, new names (RFC 7541 §6.2.2).
fn header_block(fields: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0x00);
        hpack_string(&mut out, name.as_bytes());
        hpack_string(&mut out, value.as_bytes());
    }
    out
}

fn field() -> impl Strategy<Value = (String, String)> {
    let typical = prop::sample::select(vec![
        ("x-trace", "abc"),
        ("content-type", "application/json"),
        ("content-length", "5"),
        ("te", "trailers"),
        ("accept", "*/*"),
    ]);
    let forbidden = prop::sample::select(vec![
        ("transfer-encoding", "chunked"),
        ("connection", "close"),
        ("keep-alive", "timeout=5"),
        ("upgrade", "websocket"),
        ("host", "brig.test"),
        ("content-length", "0"),
        ("content-length", "5, 6"),
        ("Uppercase", "1"),
        (":path", "/second"),
        ("te", "gzip"),
        ("x-nul", "a\0b"),
        ("x-crlf", "a\r\nx-injected: 1"),
        // Not a token, which the `http` crate lets through in HTTP/2 names.
        ("x-\"quoted", "1"),
    ]);
    prop_oneof![6 => typical, 1 => forbidden].prop_map(|(n, v)| (n.to_string(), v.to_string()))
}

/// One request's frames on `stream`: pseudo-headers (sometimes missing), fields, the header block
/// edited byte by byte at times, and a body in a DATA frame. The frames themselves stay whole
/// (lengths, flags, stream), so each stream ends, one way or another, and the test can wait for
/// it: what is hostile is what the header block says.
fn request(stream: u32) -> impl Strategy<Value = Vec<u8>> {
    let method = prop_oneof![
        6 => prop::sample::select(vec!["GET", "POST", "HEAD", "OPTIONS"]),
        1 => Just("CONNECT"),
    ];
    let path = prop_oneof![
        6 => prop::sample::select(vec!["/", "/logs?x=1", "//admin", "/%2e%2e/admin"]),
        1 => prop::sample::select(vec!["*", ""]),
    ];
    (
        method,
        path,
        prop::option::weighted(
            0.9,
            prop::sample::select(vec!["edge", "bridge.test", "a b"]),
        ),
        prop::collection::vec(field(), 0..5),
        prop::option::weighted(0.4, prop::collection::vec(any::<u8>(), 0..12)),
        prop_oneof![2 => Just(Vec::new()), 1 => prop::collection::vec(edit(), 1..3)],
    )
        .prop_map(move |(method, path, authority, fields, body, edits)| {
            let mut all = vec![
                (":method".to_string(), method.to_string()),
                (":scheme".to_string(), "http".to_string()),
                (":path".to_string(), path.to_string()),
            ];
            if let Some(authority) = authority {
                all.push((":authority".to_string(), authority.to_string()));
            }
            all.extend(fields);
            let block = apply(header_block(&all), &edits);
            let end = if body.is_none() { END_STREAM } else { 0 };
            let mut out = frame(HEADERS, END_HEADERS | end, stream, &block);
            if let Some(body) = body {
                out.extend(frame(DATA, END_STREAM, stream, &body));
            }
            out
        })
}

/// A connection's bytes, and the streams it opens (empty: arbitrary bytes after the preface).
type Conversation = (Vec<u8>, Vec<u32>);

fn connection() -> impl Strategy<Value = Conversation> {
    let conversation = (request(1), prop::option::weighted(0.3, request(3))).prop_map(|(a, b)| {
        let mut out = PREFACE.to_vec();
        out.extend(frame(SETTINGS, 0, 0, &[]));
        out.extend(a);
        let mut streams = vec![1];
        if let Some(b) = b {
            out.extend(b);
            streams.push(3);
        }
        (out, streams)
    });
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|bytes| ([PREFACE, &bytes].concat(), Vec::new())),
        5 => conversation,
    ]
}

/// Sends `bytes` and reads meshd's frames until every stream in `streams` has ended (its last
/// HEADERS or DATA, or a reset), meshd sent GOAWAY, or it closed; with no streams to wait for,
/// closes for writing and reads until meshd closes. Returns what meshd sent.
fn converse(edge: SocketAddr, bytes: &[u8], streams: &[u32]) -> Result<Vec<u8>, String> {
    use std::io::{Read, Write};
    if streams.is_empty() {
        return exchange(edge, bytes);
    }
    let mut stream = std::net::TcpStream::connect(edge).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(HANG)).unwrap();
    stream.write_all(bytes).map_err(|e| e.to_string())?;
    let mut open: Vec<u32> = streams.to_vec();
    let mut received = Vec::new();
    let mut at = 0;
    loop {
        while received.len() >= at + 9 {
            let len =
                u32::from_be_bytes([0, received[at], received[at + 1], received[at + 2]]) as usize;
            if received.len() < at + 9 + len {
                break;
            }
            let (kind, flags) = (received[at + 3], received[at + 4]);
            let id = u32::from_be_bytes(received[at + 5..at + 9].try_into().unwrap()) & 0x7fff_ffff;
            const RST_STREAM: u8 = 3;
            const GOAWAY: u8 = 7;
            if kind == GOAWAY {
                return Ok(received);
            }
            let ends =
                kind == RST_STREAM || (kind == HEADERS || kind == DATA) && flags & END_STREAM != 0;
            if ends {
                open.retain(|s| *s != id);
            }
            at += 9 + len;
        }
        if open.is_empty() {
            return Ok(received);
        }
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(received),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(received),
            Err(e) => return Err(format!("meshd neither ended the streams nor closed: {e}")),
        }
    }
}

fn check_case(edge: SocketAddr, (bytes, streams): &Conversation) -> Result<(), TestCaseError> {
    let answer = converse(edge, bytes, streams).map_err(TestCaseError::fail)?;
    // The server's preface is a SETTINGS frame: type 4 on stream 0.
    prop_assert!(
        answer.is_empty() || answer.len() >= 9 && answer[3] == SETTINGS && answer[5..9] == [0; 4],
        "not HTTP/2: {:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(64)])
    );
    Ok(())
}

const PROGRAM: &str = r#"
gateway edge {
  listen "127.0.0.1:0"
  route ping { match GET "/ping" public respond 200 "pong" }
  route all { match * prefix "/" public forward crew }
}
"#;

#[test]
fn hostile_http2_is_refused_or_forwarded_as_strict_http1() {
    let upstream = StrictUpstream::start();
    let source = format!(
        "{PROGRAM}\nservice crew {{ endpoints [\"{}\"] }}\n",
        upstream.address
    );
    let (meshd, _program) = MeshdProcess::run_program("hostile-h2", &[("edge.mesh", &source)]);
    let edge = meshd.gateway.expect("the gateway listens");
    let mut runner = runner(1000);
    let result = runner.run(&connection(), |conversation| {
        check_case(edge, &conversation)
    });
    meshd.assert_passed(result);
    let unreadable = upstream.unreadable.lock().unwrap().clone();
    assert!(
        unreadable.is_empty(),
        "meshd forwarded requests a strict parser cannot read: {unreadable:#?}"
    );
    assert!(
        upstream.answered.load(Ordering::SeqCst) > 50,
        "too few cases reached the upstream to say anything: {}",
        upstream.answered.load(Ordering::SeqCst)
    );
    meshd.assert_no_panic();
    assert_eq!(meshd.gateway_get("/ping"), (200, "pong".to_string()));
}

/// The case the byte edits found (`:authority` edited into `"authority`): a field name that is not
/// a token makes the request malformed (RFC 9113 §8.2.1). meshd answers 400 and sends nothing
/// upstream, where it once forwarded `"authority: a b` to an HTTP/1.1 upstream.
#[test]
fn a_field_name_that_is_not_a_token_is_refused_with_400() {
    let upstream = StrictUpstream::start();
    let source = format!(
        "{PROGRAM}\nservice crew {{ endpoints [\"{}\"] }}\n",
        upstream.address
    );
    let (meshd, _program) = MeshdProcess::run_program("h2-name", &[("edge.mesh", &source)]);
    let edge = meshd.gateway.expect("the gateway listens");
    let fields: Vec<(String, String)> = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/logs"),
        (":authority", "edge"),
        ("\"authority", "a b"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    let mut bytes = PREFACE.to_vec();
    bytes.extend(frame(SETTINGS, 0, 0, &[]));
    bytes.extend(frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &header_block(&fields),
    ));
    let answer = converse(edge, &bytes, &[1]).unwrap();
    // The answer's HEADERS on stream 1 open with `:status: 400`, HPACK's static entry 12 (0x8c).
    let mut at = 0;
    let mut status = None;
    while answer.len() >= at + 9 {
        let len = u32::from_be_bytes([0, answer[at], answer[at + 1], answer[at + 2]]) as usize;
        let id = u32::from_be_bytes(answer[at + 5..at + 9].try_into().unwrap()) & 0x7fff_ffff;
        if answer[at + 3] == HEADERS && id == 1 {
            status = answer.get(at + 9).copied();
        }
        at += 9 + len;
    }
    assert_eq!(status, Some(0x8c), "no 400 on stream 1: {answer:?}");
    assert_eq!(upstream.answered.load(Ordering::SeqCst), 0);
    assert!(upstream.unreadable.lock().unwrap().is_empty());
    meshd.assert_no_panic();
}
