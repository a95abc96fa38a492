//! The response the request path produces, whichever protocol carries it back: an upstream's
//! response (its header lines as received, plus the gateway's changes) or the gateway's own
//! answer. The HTTP/1 server writes it as it is; HTTP/2 converts it into an `http::Response`.

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
