//! The gateway's own answers to gRPC clients (a request whose `content-type` is
//! `application/grpc…`): a gRPC status in a trailers-only response (HTTP 200, `grpc-status` and
//! `grpc-message` in the only HEADERS frame) instead of a JSON body, which a gRPC client could
//! only report as a protocol error. Upstream answers pass untouched; a gRPC service's own status
//! is its to give.
//!
//! Mapping: 401 → 16 UNAUTHENTICATED, 403 → 7 PERMISSION_DENIED, 429 and 413 → 8
//! RESOURCE_EXHAUSTED, 504 → 4 DEADLINE_EXCEEDED, 404 and 405 → 12 UNIMPLEMENTED, 502 and 503 →
//! 14 UNAVAILABLE, 400 → 13 INTERNAL (gRPC's own HTTP mapping), anything else → 2 UNKNOWN.

use http::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::StatusCode;

use super::client_request::ClientRequest;
use super::gateway_response::GatewayResponse;
use crate::forward::{MessageHeaders, ResponseBody};

/// Whether `request` is a gRPC call.
pub fn is_grpc(request: &ClientRequest) -> bool {
    request
        .headers
        .get("content-type")
        .is_some_and(|v| v.starts_with(b"application/grpc"))
}

/// The gRPC status code the gateway's `status` stands for.
pub fn grpc_code(status: StatusCode) -> u8 {
    match status.as_u16() {
        401 => 16,
        403 => 7,
        413 | 429 => 8,
        504 => 4,
        404 | 405 => 12,
        502 | 503 => 14,
        400 => 13,
        _ => 2,
    }
}

/// `response` as a gRPC client must get it: unchanged unless it is the gateway's own error
/// answer to a gRPC call.
pub fn for_grpc_client(request: &ClientRequest, response: GatewayResponse) -> GatewayResponse {
    let own_error = matches!(response.body, ResponseBody::Full(_)) && !response.status.is_success();
    if !own_error || !is_grpc(request) {
        return response;
    }
    let message = match &response.body {
        ResponseBody::Full(Some(body)) => reason_of(body),
        _ => None,
    }
    .unwrap_or_else(|| {
        response
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_string()
    });
    let code = grpc_code(response.status);
    let mut headers: HeaderMap = response.headers.into_header_map();
    headers.remove(CONTENT_LENGTH);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(u16::from(code)));
    if let Ok(value) = HeaderValue::from_str(&percent_encode(&message)) {
        headers.insert("grpc-message", value);
    }
    GatewayResponse {
        status: StatusCode::OK,
        headers: MessageHeaders::from_map(headers),
        body: ResponseBody::empty(),
    }
}

/// The `reason` of the gateway's JSON error body.
fn reason_of(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value
        .get("reason")
        .or_else(|| value.get("error"))?
        .as_str()
        .map(str::to_string)
}

/// `grpc-message` encoding: printable ASCII except `%` as is, every other byte as `%XX`.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_statuses_map_to_grpc_codes() {
        let code = |s: u16| grpc_code(StatusCode::from_u16(s).unwrap());
        assert_eq!(
            [401, 403, 429, 504, 404, 503, 502, 413, 400, 418].map(code),
            [16, 7, 8, 4, 12, 14, 14, 8, 13, 2]
        );
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("100% sure: café"), "100%25 sure: caf%C3%A9");
    }
}
