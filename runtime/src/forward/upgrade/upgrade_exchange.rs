//! Sending an admitted upgrade request to one endpoint of a service and reading its answer. The
//! request goes on a connection of its own (never a pooled one: after a 101 the connection belongs
//! to the tunnel), over mutual TLS when the service is a mesh workload. It is not retried: an
//! upgrade is not idempotent once the upstream has seen it. A 101 becomes a
//! [`Switched`] response; any other answer goes back to the client as an ordinary response,
//! and its connection is closed after it.

use std::mem::MaybeUninit;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use super::switched_response::{passed_on, Switched};
use super::upgrade_gate::UpgradePermit;
use super::upgrade_request::{list_tokens, UpgradeAsk};
use crate::forward::http1::body_decoder::BodyDecoder;
use crate::forward::http1::connection::READ_CHUNK;
use crate::forward::http1::response_head::{parse_head, HeadError, HeadParse, MAX_HEAD_BYTES};
use crate::forward::http1::{ConnectError, UpstreamConn};
use crate::forward::response_body::UpstreamBody;
use crate::forward::{
    ForwardFailure, ForwardFailureKind, Forwarded, MessageHeaders, ResponseBody, ServiceState,
    TimeBudget, UpstreamRequest,
};

/// What the tunnel needs besides the upstream: the client's ask, its place, its idle timeout.
#[derive(Debug)]
pub struct Opening {
    /// What the client asked for.
    pub ask: UpgradeAsk,
    /// The route's place for the tunnel.
    pub permit: UpgradePermit,
    /// The route's idle timeout.
    pub idle: Duration,
}

/// Forwards the upgrade request `request` (encoded without hop-by-hop headers) to `service`,
/// within the service's per-try timeout for the connection and the answer.
pub async fn forward_upgrade(
    service: &ServiceState,
    budget: TimeBudget,
    key: Option<u64>,
    request: UpstreamRequest<'_>,
    opening: Opening,
) -> Result<Forwarded, ForwardFailure> {
    let fail = |kind, endpoint: Option<&str>, detail: String| ForwardFailure {
        kind,
        service: service.name.clone(),
        endpoint: endpoint.map(Into::into),
        detail,
        attempts: 1,
    };
    let index = match service.pick(key, None) {
        Ok(index) => index,
        Err(none) => {
            let (kind, detail) = none.failure();
            return Err(fail(kind, None, detail));
        }
    };
    let endpoint = &service.endpoints[index];
    let at = Some(&*endpoint.address);
    let timeout = budget
        .overall
        .map_or(budget.per_try, |o| o.min(budget.per_try));
    let deadline = Instant::now() + timeout;
    let lease = endpoint.lease();
    let started = Instant::now();
    let mut conn =
        match UpstreamConn::connect(endpoint.socket_addr, timeout, service.tls.as_ref()).await {
            Ok(conn) => conn,
            Err(error) => {
                service.record(endpoint, true, None);
                let kind = match error {
                    ConnectError::Handshake(_) => ForwardFailureKind::Handshake,
                    _ => ForwardFailureKind::Connect,
                };
                return Err(fail(kind, at, error.to_string()));
            }
        };
    let head = upgrade_head(request.head, &opening.ask.protocol);
    let answer = timeout_at(deadline, async {
        conn.stream.write_all(&head).await?;
        read_answer(&mut conn, &opening.ask).await
    })
    .await;
    let answer = match answer {
        Err(_) => {
            service.record(endpoint, true, None);
            let detail = format!("{}ms", timeout.as_millis());
            return Err(fail(ForwardFailureKind::Timeout, at, detail));
        }
        Ok(Err(error)) => {
            service.record(endpoint, true, None);
            let kind = match error.kind() {
                std::io::ErrorKind::InvalidData => ForwardFailureKind::BadResponse,
                _ => ForwardFailureKind::Reset,
            };
            return Err(fail(kind, at, error.to_string()));
        }
        Ok(Ok(answer)) => answer,
    };
    let upstream_time = started.elapsed();
    endpoint.latency.observe(upstream_time.as_secs_f64());
    let endpoint_name = endpoint.address.clone();
    match answer {
        Answer::Switched { headers, protocol } => {
            service.record(endpoint, false, None);
            opening.permit.switched();
            Ok(Forwarded {
                status: StatusCode::SWITCHING_PROTOCOLS,
                headers: MessageHeaders::from_map(headers),
                body: ResponseBody::Switched(Box::new(Switched {
                    upstream: conn,
                    protocol,
                    lease,
                    permit: opening.permit,
                    idle: opening.idle,
                })),
                endpoint: endpoint_name,
                upstream_time,
                attempts: 1,
            })
        }
        Answer::Declined(head) => {
            service.record(endpoint, head.status.as_u16() >= 500, None);
            let decoder = BodyDecoder::new(head.framing);
            Ok(Forwarded {
                status: head.status,
                headers: MessageHeaders::from_raw(head.headers),
                body: ResponseBody::Upstream(UpstreamBody::new(conn, decoder, false, lease)),
                endpoint: endpoint_name,
                upstream_time,
                attempts: 1,
            })
        }
    }
}

/// The request head with the upgrade put back: the encoder leaves hop-by-hop headers out, and
/// these two are the ones an upgrade needs.
fn upgrade_head(mut head: Vec<u8>, protocol: &[u8]) -> Vec<u8> {
    if head.ends_with(b"\r\n\r\n") {
        head.truncate(head.len() - 2);
    }
    head.extend_from_slice(b"connection: upgrade\r\nupgrade: ");
    head.extend_from_slice(protocol);
    head.extend_from_slice(b"\r\n\r\n");
    head
}

/// The upstream's answer to an upgrade request.
// Returned once per upgrade and consumed at once.
#[allow(clippy::large_enum_variant)]
enum Answer {
    /// `101`, with the headers to pass on and the protocol chosen.
    Switched {
        headers: http::HeaderMap,
        protocol: Bytes,
    },
    /// Any other final response: the upgrade did not happen.
    Declined(crate::forward::http1::response_head::ResponseHead),
}

/// Reads until a final response head (1xx other than 101 are skipped); `asked` is the request's
/// `Upgrade` value, which a 101 must keep to.
async fn read_answer(conn: &mut UpstreamConn, asked: &UpgradeAsk) -> std::io::Result<Answer> {
    let invalid = |detail: String| std::io::Error::new(std::io::ErrorKind::InvalidData, detail);
    loop {
        if !conn.read.is_empty() {
            match parse_head(&mut conn.read, false) {
                Ok(HeadParse::Complete(head)) => return Ok(Answer::Declined(head)),
                Ok(HeadParse::Partial) => {}
                Err(HeadError::Upgrade) => {
                    if let Some(answer) = parse_switch(&mut conn.read, asked).map_err(invalid)? {
                        return Ok(answer);
                    }
                }
                Err(error) => return Err(invalid(error.to_string())),
            }
        }
        conn.read.reserve(READ_CHUNK);
        if conn.stream.read_buf(&mut conn.read).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the upstream closed the connection before answering the upgrade",
            ));
        }
    }
}

/// Parses the 101 at the start of `buffer` and removes it; what follows it is the upstream's
/// first bytes of the new protocol. `None` while incomplete. The protocol switched to must be
/// one the client asked for (`asked`, the request's `Upgrade`): RFC 9110 §7.8 forbids a server
/// anything else, and a tunnel to a protocol nobody asked for (`h2c` for a WebSocket) is not one
/// meshd admitted.
fn parse_switch(buffer: &mut BytesMut, asked: &UpgradeAsk) -> Result<Option<Answer>, String> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 128];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut response, buffer, &mut slots)
        .map_err(|e| format!("malformed 101 head: {e}"))?;
    let length = match parsed {
        httparse::Status::Partial if buffer.len() > MAX_HEAD_BYTES => {
            return Err("the 101 head is too large".into())
        }
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(length) => length,
    };
    let protocol = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("upgrade"))
        .map(|h| Bytes::copy_from_slice(h.value.trim_ascii()))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            "the upstream switched protocols without naming one (no Upgrade header)".to_string()
        })?;
    if !list_tokens(&protocol).all(|token| asked.names(token)) {
        return Err(format!(
            "the upstream switched to {:?}, which the client did not ask for",
            String::from_utf8_lossy(&protocol)
        ));
    }
    let headers = passed_on(response.headers);
    let _ = buffer.split_to(length);
    Ok(Some(Answer::Switched { headers, protocol }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(protocol: &'static [u8]) -> UpgradeAsk {
        UpgradeAsk {
            protocol: Bytes::from_static(protocol),
        }
    }

    #[test]
    fn the_upgrade_headers_go_back_into_the_head() {
        let head = upgrade_head(
            b"GET /chat HTTP/1.1\r\nhost: a\r\n\r\n".to_vec(),
            b"websocket",
        );
        assert_eq!(
            head,
            b"GET /chat HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"
        );
    }

    #[test]
    fn a_switch_keeps_what_follows_it_and_needs_an_upgrade_header() {
        let mut buffer = BytesMut::from(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n\u{81}\u{1}a",
        );
        let Some(Answer::Switched { headers, protocol }) =
            parse_switch(&mut buffer, &ask(b"websocket")).unwrap()
        else {
            panic!("expected a switch");
        };
        assert_eq!(&protocol[..], b"websocket");
        assert!(headers.contains_key("sec-websocket-accept"));
        assert!(!headers.contains_key("connection"));
        assert_eq!(&buffer[..], "\u{81}\u{1}a".as_bytes());
        let mut bare = BytesMut::from("HTTP/1.1 101 Switching Protocols\r\n\r\n");
        assert!(parse_switch(&mut bare, &ask(b"websocket")).is_err());
    }

    #[test]
    fn a_switch_to_a_protocol_the_client_did_not_ask_for_is_refused() {
        let switch = |upgrade: &str| {
            let mut buffer = BytesMut::from(
                format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: {upgrade}\r\n\r\n").as_str(),
            );
            parse_switch(&mut buffer, &ask(b"websocket, chat/2")).map(|answer| answer.is_some())
        };
        assert_eq!(switch("WebSocket"), Ok(true));
        assert_eq!(switch("chat/2"), Ok(true));
        let refused = switch("h2c").unwrap_err();
        assert!(refused.contains("did not ask for"), "{refused}");
        assert!(switch("websocket, h2c").is_err());
    }
}
