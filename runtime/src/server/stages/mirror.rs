//! The mirror step of the forward action: when the route's mirror picks a request, its body is
//! read whole (up to the mirror's `max_body`; the primary then gets the same bytes) and a copy
//! with a `-shadow` host is handed to the mirror, which sends it on its own task. Nothing here
//! waits on the mirror.

use bytes::Bytes;
use http::header::HOST;
use http::HeaderValue;

use crate::admit::Admitted;
use crate::forward::http1::request_encoder::HopContext;
use crate::forward::http1::request_encoder::{encode_head, BodyFraming, ForwardedHeaders};
use crate::forward::mirror::{shadow_host, Mirror, MirrorCopy};
use crate::forward::{BodyError, MessageHeaders, RequestBody};
use crate::server::body_buffer::buffer_body;
use crate::server::client_request::ClientRequest;
use crate::server::forwarded_headers::prepare_upstream_headers;
use crate::server::request_handler::ConnectionContext;

/// The body to copy when the mirror picks this request: `Ok(None)` when it does not (or the body
/// cannot be copied), `Ok(Some(bytes))` (empty for none) when it does; the client's body is then
/// buffered for the primary too.
pub async fn mirror_body(
    mirror: &Mirror,
    body: &mut RequestBody<'_>,
) -> Result<Option<Bytes>, BodyError> {
    if !mirror.picks() {
        return Ok(None);
    }
    if body.is_end() {
        return Ok(Some(Bytes::new()));
    }
    if !mirror.takes_body(body.remaining_length()) {
        return Ok(None);
    }
    let bytes = buffer_body(body, mirror.max_body()).await?;
    body.set_buffered(bytes.clone());
    Ok(Some(bytes))
}

/// Sends a copy of the request (the primary's target, headers after admission's edits, the
/// forwarding headers) to the mirror, its `Host` suffixed with `-shadow`. A traced request's
/// copy carries its trace, as a child of the route's span.
pub fn send_copy(
    mirror: &Mirror,
    connection: &ConnectionContext,
    request: &ClientRequest,
    admitted: &Admitted<'_>,
    target: &str,
    body: Bytes,
    trace: Option<HopContext>,
) {
    let mut headers = request.headers.to_header_map();
    if admitted.changes_request_headers() {
        admitted.apply_request_headers(&mut headers);
    }
    let authority = request
        .authority()
        .and_then(|a| std::str::from_utf8(a).ok())
        .unwrap_or("");
    let shadow = shadow_host(authority);
    let Ok(value) = HeaderValue::from_str(&shadow) else {
        return;
    };
    headers.insert(HOST, value);
    let headers = MessageHeaders::from_map(headers);
    // The copy's own Host, set above, goes as it is; X-Forwarded-Host names it too.
    let host = ForwardedHeaders {
        host: Some(shadow.as_bytes()),
        ..ForwardedHeaders::none()
    };
    let mut forwarding = prepare_upstream_headers(&headers, &connection.client, host);
    forwarding.trace = trace;
    let framing = if body.is_empty() {
        BodyFraming::Empty
    } else {
        BodyFraming::Sized(body.len() as u64)
    };
    let mut head = Vec::with_capacity(512);
    encode_head(
        &request.method,
        target,
        &headers,
        framing,
        &forwarding,
        &mut head,
    );
    mirror.send(MirrorCopy {
        head,
        body,
        head_request: request.method == http::Method::HEAD,
    });
}
