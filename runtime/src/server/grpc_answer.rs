//! The gateway's own answers to gRPC clients (a request whose `content-type` is
//! `application/grpc…`): a gRPC status in a trailers-only response (HTTP 200, `grpc-status` and
//! `grpc-message` in the only HEADERS frame) instead of a JSON body, which a gRPC client could
//! only report as a protocol error. Upstream answers pass untouched; a gRPC service's own status
//! is its to give.
//!
//! The status for each answer is [`grpc_code_for_http`], shared with `meshc explain`.

use http::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::StatusCode;
use meshwork_bundle::grpc_status::grpc_code_for_http;

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
    let code = grpc_code_for_http(response.status.as_u16());
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
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("100% sure: café"), "100%25 sure: caf%C3%A9");
    }
}
