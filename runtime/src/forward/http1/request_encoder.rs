//! Writing a request head: `METHOD target HTTP/1.1`, the headers, and the framing of the body.

use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, EXPECT};
use http::request::Parts;

/// The forwarding headers written after the client's own (which are skipped when they carry these
/// names).
#[derive(Debug, Clone)]
pub struct ForwardedHeaders {
    /// `X-Forwarded-For`.
    pub forwarded_for: HeaderValue,
    /// `X-Forwarded-Proto`.
    pub proto: HeaderValue,
    /// The host the client addressed: `X-Forwarded-Host`, and `Host` when `add_host`.
    pub host: Option<HeaderValue>,
    /// Whether the request has no `Host` header of its own (HTTP/2).
    pub add_host: bool,
}

impl ForwardedHeaders {
    /// `x-forwarded-for`.
    pub const FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    /// `x-forwarded-proto`.
    pub const PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    /// `x-forwarded-host`.
    pub const HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

    /// Headers with no forwarding headers (health checks).
    pub fn none() -> Self {
        ForwardedHeaders {
            forwarded_for: HeaderValue::from_static(""),
            proto: HeaderValue::from_static(""),
            host: None,
            add_host: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.forwarded_for.is_empty()
    }
}

fn is_forwarding_header(name: &HeaderName) -> bool {
    // Custom names: a length check rules most headers out before comparing bytes.
    matches!(name.as_str().len(), 15..=17)
        && (name == ForwardedHeaders::FOR
            || name == ForwardedHeaders::PROTO
            || name == ForwardedHeaders::HOST)
}

fn write_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// How the request body is framed on the upstream connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    Empty,
    /// `Content-Length` bytes (the client's header is kept).
    Length,
    /// Chunked (the client's body has no declared length).
    Chunked,
}

/// Encodes the request head; `framing` decides whether `Transfer-Encoding: chunked` is added.
/// `Expect` is dropped: meshd reads the client's body itself, so the upstream need not ask for it.
pub fn encode_head(
    parts: &Parts,
    framing: BodyFraming,
    forwarded: &ForwardedHeaders,
    out: &mut Vec<u8>,
) {
    let replace_forwarding = !forwarded.is_empty();
    out.clear();
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    match parts.uri.path_and_query() {
        Some(target) => out.extend_from_slice(target.as_str().as_bytes()),
        None => out.push(b'/'),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if forwarded.add_host {
        if let Some(host) = &forwarded.host {
            write_header(out, b"host", host.as_bytes());
        }
    }
    for (name, value) in &parts.headers {
        if name == EXPECT
            || (framing == BodyFraming::Chunked && name == CONTENT_LENGTH)
            || (replace_forwarding && is_forwarding_header(name))
        {
            continue;
        }
        write_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if replace_forwarding {
        write_header(out, b"x-forwarded-for", forwarded.forwarded_for.as_bytes());
        write_header(out, b"x-forwarded-proto", forwarded.proto.as_bytes());
        if let Some(host) = &forwarded.host {
            write_header(out, b"x-forwarded-host", host.as_bytes());
        }
    }
    if framing == BodyFraming::Chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends one chunk in chunked encoding.
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(request: Request<()>) -> Parts {
        request.into_parts().0
    }

    #[test]
    fn a_head_has_the_request_line_headers_and_a_blank_line() {
        let request = Request::get("/a?b=1")
            .header("host", "api")
            .header("expect", "100-continue")
            .body(())
            .unwrap();
        let mut out = Vec::new();
        encode_head(
            &parts(request),
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
    fn a_chunked_body_replaces_any_content_length() {
        let request = Request::post("/")
            .header("content-length", "3")
            .body(())
            .unwrap();
        let mut out = Vec::new();
        encode_head(
            &parts(request),
            BodyFraming::Chunked,
            &ForwardedHeaders::none(),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let mut chunk = Vec::new();
        encode_chunk(b"hello", &mut chunk);
        assert_eq!(chunk, b"5\r\nhello\r\n");
    }
}
