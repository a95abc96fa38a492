//! Writing a request head: `METHOD target HTTP/1.1`, the headers, and the framing of the body.

use http::header::{CONTENT_LENGTH, EXPECT};
use http::request::Parts;

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
pub fn encode_head(parts: &Parts, framing: BodyFraming, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    match parts.uri.path_and_query() {
        Some(target) => out.extend_from_slice(target.as_str().as_bytes()),
        None => out.push(b'/'),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        if name == EXPECT || (framing == BodyFraming::Chunked && name == CONTENT_LENGTH) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
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
        encode_head(&parts(request), BodyFraming::Empty, &mut out);
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
        encode_head(&parts(request), BodyFraming::Chunked, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let mut chunk = Vec::new();
        encode_chunk(b"hello", &mut chunk);
        assert_eq!(chunk, b"5\r\nhello\r\n");
    }
}
