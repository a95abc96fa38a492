//! The response the request path produces, whichever protocol carries it back: an upstream's
//! response (its header lines as received, plus the gateway's changes) or the gateway's own
//! answer. The HTTP/1 server writes it as it is; HTTP/2 converts it into an `http::Response`.

use http::header::{HeaderMap, HeaderValue, CONTENT_LENGTH};
use http::{Response, StatusCode};

use crate::forward::{MessageHeaders, ResponseBody};

/// A response on its way to the client.
#[derive(Debug)]
pub struct GatewayResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers (framing headers are the writer's to decide).
    pub headers: MessageHeaders,
    /// The body.
    pub body: ResponseBody,
}

impl GatewayResponse {
    /// The response for hyper (HTTP/2).
    pub fn into_http(self) -> Response<ResponseBody> {
        let mut response = Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.into_header_map();
        single_content_length(response.headers_mut());
        response
    }
}

impl From<Response<ResponseBody>> for GatewayResponse {
    fn from(response: Response<ResponseBody>) -> Self {
        let (parts, body) = response.into_parts();
        GatewayResponse {
            status: parts.status,
            headers: MessageHeaders::from_map(parts.headers),
            body,
        }
    }
}

/// An HTTP/1.1 upstream may repeat its length (`Content-Length: 5, 5`, or two such lines),
/// which HTTP/1.1 readers accept (RFC 9110 §8.6) and meshd's response parser did; HTTP/2 allows
/// one value, and a peer resets a stream that carries a list. The one length is kept; lengths
/// that disagree (refused by the parser before this) or do not parse are dropped.
fn single_content_length(headers: &mut HeaderMap) {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = values.next() else {
        return;
    };
    if values.next().is_none() && first.as_bytes().iter().all(u8::is_ascii_digit) {
        return;
    }
    let mut lengths = headers
        .get_all(CONTENT_LENGTH)
        .iter()
        .flat_map(|value| value.as_bytes().split(|b| *b == b','))
        .map(|part| {
            std::str::from_utf8(part.trim_ascii())
                .ok()?
                .parse::<u64>()
                .ok()
        });
    let one = lengths.next().flatten();
    let agreed = one.filter(|n| lengths.all(|other| other == Some(*n)));
    headers.remove(CONTENT_LENGTH);
    if let Some(length) = agreed {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalised(values: &[&str]) -> Vec<String> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(CONTENT_LENGTH, HeaderValue::from_str(value).unwrap());
        }
        single_content_length(&mut headers);
        headers
            .get_all(CONTENT_LENGTH)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_repeated_length_becomes_one_and_a_disagreeing_one_is_dropped() {
        assert_eq!(normalised(&["5"]), ["5"]);
        assert_eq!(normalised(&["5, 5"]), ["5"]);
        assert_eq!(normalised(&["5", "5"]), ["5"]);
        assert_eq!(normalised(&["5,5 , 5"]), ["5"]);
        assert!(normalised(&["5, 6"]).is_empty());
        assert!(normalised(&["5", "x"]).is_empty());
        assert!(normalised(&[]).is_empty());
    }
}
