//! The answers admission gives without calling upstream: a refusal (401, 403, 413, 429 with
//! `x-meshwork-denied-by` and a JSON reason) and a CORS preflight (204).

use http::Response;

use crate::admit::{Denial, PreflightResponse};
use crate::forward::ResponseBody;

/// The response to a refused request.
pub fn denial_response(denial: &Denial) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(denial.json_body().into_bytes()));
    *response.status_mut() = denial.status;
    *response.headers_mut() = denial.response_headers();
    response
}

/// The response to an allowed CORS preflight.
pub fn preflight_response(preflight: PreflightResponse) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(Vec::new()));
    *response.status_mut() = preflight.status;
    *response.headers_mut() = preflight.headers;
    response
}
