//! The gateway's own answers (no route, wrong method, bad request, upstream failures): a status
//! and a small JSON body `{"status": 404, "error": "Not Found", "reason": "…"}`.

use http::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use http::{Response, StatusCode};
use serde::Serialize;

use crate::forward::ResponseBody;

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: u16,
    error: &'a str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<&'a str>,
}

/// A JSON error response.
pub fn json_error(status: StatusCode, reason: &str, route: Option<&str>) -> Response<ResponseBody> {
    let body = ErrorBody {
        status: status.as_u16(),
        error: status.canonical_reason().unwrap_or("Error"),
        reason,
        route,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = Response::new(ResponseBody::full(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// 405 with the `Allow` header.
pub fn method_not_allowed(allow: &[&str]) -> Response<ResponseBody> {
    let list = allow.join(", ");
    let mut response = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("this path accepts {list}"),
        None,
    );
    if let Ok(value) = HeaderValue::from_str(&list) {
        response.headers_mut().insert(ALLOW, value);
    }
    response
}
