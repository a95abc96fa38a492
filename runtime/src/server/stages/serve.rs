//! The serve action: an admitted request gets the route's topic as a Server-Sent Events stream
//! (`200 text/event-stream`, streamed until the client leaves or is cut off as too slow) or one
//! long-poll JSON batch, or a refusal before any record (`400` for a bad position or bound, `503`
//! with `Retry-After` when the route is full or the topic unreadable).

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{Response, StatusCode};

use crate::admit::Admitted;
use crate::forward::ResponseBody;
use crate::server::error_response::json_error;
use crate::server::gateway_response::GatewayResponse;
use crate::stream::{ServeReply, ServeRequest, ServeRoute};

use super::admission::RequestSeen;
use super::outcome::Outcome;

/// Opens the stream or reads the batch the request asks for.
pub async fn serve(
    serve: &ServeRoute,
    route_name: &str,
    seen: &RequestSeen<'_>,
    admitted: &Admitted<'_>,
    outcome: &mut Outcome<'_>,
) -> GatewayResponse {
    let request = ServeRequest {
        headers: Some(seen.request.header_map()),
        query: seen.request.query(),
        consumer: admitted.consumer_name(),
    };
    match serve.open(&request).await {
        ServeReply::Stream(body) => {
            let mut response = Response::new(ResponseBody::Streamed(body));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            // Proxies in front of meshd (nginx) must pass events on as they come.
            headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
            response.into()
        }
        ServeReply::Batch(answer) => {
            let bytes = serde_json::to_vec(&answer).unwrap_or_default();
            let mut response = Response::new(ResponseBody::full(bytes));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response.into()
        }
        ServeReply::Refused {
            status,
            reason,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            outcome.error = Some(reason.clone());
            let mut response = json_error(status, &reason, Some(route_name));
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
            response.into()
        }
    }
}
