//! Writing a request head: `METHOD target HTTP/1.1`, the headers, and the framing of the body.

use std::borrow::Cow;

use http::Method;

use super::raw_headers::NameKind;
use crate::forward::message_headers::MessageHeaders;

/// The forwarding headers written after the client's own (which are skipped when they carry these
/// names).
#[derive(Debug, Clone)]
pub struct ForwardedHeaders<'a> {
    /// `X-Forwarded-For`.
    pub forwarded_for: Cow<'a, [u8]>,
    /// `X-Forwarded-Proto`.
    pub proto: &'a [u8],
    /// The host the client addressed: `X-Forwarded-Host`, and `Host` when `add_host`.
    pub host: Option<&'a [u8]>,
    /// Whether `Host` is written from `host` (or `default_host`) in place of the client's `Host`
    /// lines: when the request has none (HTTP/2, or HTTP/1.0 without one), and when its target
    /// named the host (HTTP/1.1 absolute form, HTTP/2 `:authority`), which is the host meshd
    /// routed by (RFC 9112 §3.2.2).
    pub add_host: bool,
    /// The `Host` sent when the request has none and names no host at all (HTTP/1.0 without
    /// `Host` or an absolute target): the service's name, as nginx sends its upstream's. An
    /// HTTP/1.1 request without `Host` is malformed (RFC 9112 §3.2), and meshd speaks HTTP/1.1
    /// upstream.
    pub default_host: Option<&'a [u8]>,
    /// The `traceparent` of this hop's span, replacing the caller's (`None`: the caller's
    /// `traceparent` and `tracestate`, if any, pass as they came).
    pub trace: Option<HopContext>,
}

/// The trace context a hop sends on.
#[derive(Debug, Clone, Copy)]
pub struct HopContext {
    /// The `traceparent` value.
    pub traceparent: [u8; crate::trace::TRACEPARENT_LEN],
    /// Whether the caller's `tracestate` travels on (not with a new trace).
    pub keep_state: bool,
}

impl ForwardedHeaders<'_> {
    /// Headers with no forwarding headers (health checks).
    pub fn none() -> Self {
        ForwardedHeaders {
            forwarded_for: Cow::Borrowed(b""),
            proto: b"",
            host: None,
            add_host: false,
            default_host: None,
            trace: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.forwarded_for.is_empty()
    }
}

fn write_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// How the request body is framed on the upstream connection. The client's own framing headers
/// are never copied: the gateway states what it knows of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body and no length.
    Empty,
    /// A body of exactly this many bytes (declared by the client, or read whole by the gateway).
    Sized(u64),
    /// Chunked (the client's body has no declared length).
    Chunked,
}

impl BodyFraming {
    /// Whether a body is sent (a declared length of 0 sends none).
    pub fn has_body(self) -> bool {
        !matches!(self, BodyFraming::Empty | BodyFraming::Sized(0))
    }
}

/// Encodes the request head: the request line, the client's headers without hop-by-hop and
/// framing ones (and without `Expect`: meshd reads the client's body itself, so the upstream need not ask for
/// it), the forwarding headers, and the body's framing.
pub fn encode_head(
    method: &Method,
    target: &str,
    headers: &MessageHeaders,
    framing: BodyFraming,
    forwarded: &ForwardedHeaders<'_>,
    out: &mut Vec<u8>,
) {
    let replace_forwarding = !forwarded.is_empty();
    let (replace_trace, drop_state) = match &forwarded.trace {
        Some(hop) => (true, !hop.keep_state),
        None => (false, false),
    };
    out.clear();
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    if target.is_empty() {
        out.push(b'/');
    } else {
        out.extend_from_slice(target.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if forwarded.add_host {
        if let Some(host) = forwarded.host.or(forwarded.default_host) {
            write_header(out, b"host", host);
        }
    }
    headers.for_each_line(|name, value, kind| {
        let skip = match kind {
            NameKind::Other | NameKind::Date => false,
            NameKind::Host => forwarded.add_host,
            NameKind::ForwardedFor | NameKind::ForwardedProto | NameKind::ForwardedHost => {
                replace_forwarding
            }
            NameKind::TraceParent => replace_trace,
            NameKind::TraceState => drop_state,
            // The body's framing is written below, from what the gateway knows of the body.
            NameKind::ContentLength
            | NameKind::Expect
            | NameKind::TransferEncoding
            | NameKind::Connection
            | NameKind::HopByHop
            | NameKind::NamedByConnection => true,
        };
        if !skip {
            write_header(out, name, value);
        }
    });
    if replace_forwarding {
        write_header(out, b"x-forwarded-for", &forwarded.forwarded_for);
        write_header(out, b"x-forwarded-proto", forwarded.proto);
        if let Some(host) = forwarded.host {
            write_header(out, b"x-forwarded-host", host);
        }
    }
    if let Some(hop) = &forwarded.trace {
        write_header(out, b"traceparent", &hop.traceparent);
    }
    match framing {
        BodyFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        BodyFraming::Sized(length) => {
            let mut digits = itoa::Buffer::new();
            write_header(out, b"content-length", digits.format(length).as_bytes());
        }
        BodyFraming::Empty => {}
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends one chunk in chunked encoding.
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    let mut size = [0u8; 16];
    let digits = hex_digits(data.len(), &mut size);
    out.extend_from_slice(digits);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// `n` in lower-case hexadecimal, written at the end of `buffer`.
fn hex_digits(mut n: usize, buffer: &mut [u8; 16]) -> &[u8] {
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            return &buffer[at..];
        }
    }
}

/// The last chunk.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> MessageHeaders {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        MessageHeaders::from_map(map)
    }

    #[test]
    fn a_head_has_the_request_line_headers_and_a_blank_line() {
        let mut out = Vec::new();
        encode_head(
            &Method::GET,
            "/a?b=1",
            &headers(&[("host", "api"), ("expect", "100-continue")]),
            BodyFraming::Empty,
            &ForwardedHeaders::none(),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /a?b=1 HTTP/1.1\r\nhost: api\r\n\r\n"
        );
    }

    #[test]
    fn a_request_that_names_no_host_gets_the_default_one() {
        // `target_named`: the target's authority is `host` (absolute form, `:authority`).
        let encoded = |request: &[(&'static str, &'static str)],
                       host: Option<&'static [u8]>,
                       target_named: bool| {
            let forwarded = ForwardedHeaders {
                host,
                add_host: target_named || !request.iter().any(|(name, _)| *name == "host"),
                default_host: Some(b"crew"),
                ..ForwardedHeaders::none()
            };
            let mut out = Vec::new();
            let headers = headers(request);
            let framing = BodyFraming::Empty;
            encode_head(&Method::GET, "/", &headers, framing, &forwarded, &mut out);
            String::from_utf8(out).unwrap()
        };
        // HTTP/1.0 without Host or an absolute target.
        assert_eq!(
            encoded(&[], None, false),
            "GET / HTTP/1.1\r\nhost: crew\r\n\r\n"
        );
        // The client named one: its own, never the default.
        assert_eq!(
            encoded(&[], Some(b"api"), true),
            "GET / HTTP/1.1\r\nhost: api\r\n\r\n"
        );
        assert_eq!(
            encoded(&[("host", "api")], Some(b"api"), false),
            "GET / HTTP/1.1\r\nhost: api\r\n\r\n"
        );
        // The target named another host than the Host line: the target's, alone.
        assert_eq!(
            encoded(&[("host", "brig"), ("x-a", "1")], Some(b"bridge"), true),
            "GET / HTTP/1.1\r\nhost: bridge\r\nx-a: 1\r\n\r\n"
        );
    }

    #[test]
    fn a_hop_replaces_the_callers_traceparent_and_drops_tracestate_of_a_new_trace() {
        let hop = |keep_state| ForwardedHeaders {
            trace: Some(HopContext {
                traceparent: *b"00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01",
                keep_state,
            }),
            ..ForwardedHeaders::none()
        };
        let client = headers(&[
            (
                "TraceParent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "vendor=x"),
        ]);
        let mut out = Vec::new();
        encode_head(
            &Method::GET,
            "/",
            &client,
            BodyFraming::Empty,
            &hop(true),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "GET / HTTP/1.1\r\ntracestate: vendor=x\r\n\
             traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01\r\n\r\n"
        );
        encode_head(
            &Method::GET,
            "/",
            &client,
            BodyFraming::Empty,
            &hop(false),
            &mut out,
        );
        assert!(!String::from_utf8_lossy(&out).contains("tracestate"));
        encode_head(
            &Method::GET,
            "/",
            &client,
            BodyFraming::Empty,
            &ForwardedHeaders::none(),
            &mut out,
        );
        assert!(
            String::from_utf8_lossy(&out).contains("00f067aa0ba902b7"),
            "untraced: as it came"
        );
    }

    #[test]
    fn a_chunked_body_replaces_any_content_length_and_a_declared_one_is_restated() {
        let mut out = Vec::new();
        encode_head(
            &Method::POST,
            "/",
            &headers(&[("content-length", "3")]),
            BodyFraming::Chunked,
            &ForwardedHeaders::none(),
            &mut out,
        );
        assert_eq!(
            String::from_utf8_lossy(&out),
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let mut chunk = Vec::new();
        encode_chunk(b"hello", &mut chunk);
        assert_eq!(chunk, b"5\r\nhello\r\n");
        encode_head(
            &Method::POST,
            "/",
            &headers(&[("content-length", "3, 3")]),
            BodyFraming::Sized(3),
            &ForwardedHeaders::none(),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\n"
        );
        chunk.clear();
        encode_chunk(&[b'x'; 0x1a2], &mut chunk);
        assert!(chunk.starts_with(b"1a2\r\n"));
    }

    #[test]
    fn a_body_read_whole_gets_its_own_length() {
        let mut out = Vec::new();
        encode_head(
            &Method::POST,
            "/",
            &headers(&[("transfer-encoding", "chunked"), ("x-a", "1")]),
            BodyFraming::Sized(11),
            &ForwardedHeaders::none(),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST / HTTP/1.1\r\nx-a: 1\r\ncontent-length: 11\r\n\r\n"
        );
    }
}
