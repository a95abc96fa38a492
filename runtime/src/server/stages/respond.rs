//! The respond action: a `respond` route's fixed answer, prepared at load.

use http::header::CONTENT_TYPE;
use http::Response;

use crate::forward::ResponseBody;
use crate::server::gateway_response::GatewayResponse;
use crate::state::FixedResponse;

/// The route's fixed answer.
pub fn respond(fixed: &FixedResponse) -> GatewayResponse {
    let mut response = Response::new(ResponseBody::full(fixed.body.clone()));
    *response.status_mut() = fixed.status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, fixed.content_type.clone());
    response.into()
}
