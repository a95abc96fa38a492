//! Reading a whole request body into memory, for what needs all of it before anything is sent
//! upstream: a condition reading `request.body`, a Kafka `produce` route, a mirrored request.
//! Bodies are otherwise streamed. A body past the cap is refused (413) as soon as it grows past
//! it, without reading the rest. A client that pauses longer than [`BODY_PAUSE`] between two
//! pieces of it is refused too (408): a streamed body is bounded by the service's timeout, but a
//! body read whole had no bound, so a client sending a byte a minute held its connection for as
//! long as its `Content-Length` let it (a slow-body attack).

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::forward::{BodyError, RequestBody};

/// The most a body is buffered to when the route declares no `body_limit` (the decision
/// core's, so `meshc test` refuses the same bodies).
pub const DEFAULT_BUFFER_LIMIT: u64 = crate::admit::BODY_BUFFER_LIMIT;

/// The longest pause between two pieces of a body read whole: nginx's `client_body_timeout`.
pub const BODY_PAUSE: Duration = Duration::from_secs(60);

/// Reads `body` to its end, refusing it once it is longer than `limit` bytes or once its client
/// pauses longer than [`BODY_PAUSE`]. A body that arrives in one piece is returned without
/// copying.
pub async fn buffer_body(body: &mut RequestBody<'_>, limit: u64) -> Result<Bytes, BodyError> {
    if body.remaining_length().is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut first: Option<Bytes> = None;
    let mut gathered = BytesMut::new();
    loop {
        let piece = match tokio::time::timeout(BODY_PAUSE, body.next()).await {
            Err(_) => return Err(BodyError::Stalled(BODY_PAUSE)),
            Ok(None) => break,
            Ok(Some(piece)) => piece?,
        };
        let total = first.as_ref().map_or(0, Bytes::len) + gathered.len() + piece.len();
        if total as u64 > limit {
            return Err(BodyError::TooLarge { limit });
        }
        match first.take() {
            None if gathered.is_empty() => first = Some(piece),
            None => gathered.extend_from_slice(&piece),
            Some(earlier) => {
                let hint = body.remaining_length().unwrap_or(0).min(limit) as usize;
                gathered.reserve(earlier.len() + piece.len() + hint);
                gathered.extend_from_slice(&earlier);
                gathered.extend_from_slice(&piece);
            }
        }
    }
    Ok(first.unwrap_or_else(|| gathered.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::request_body::Pieces;

    #[tokio::test]
    async fn pieces_are_gathered_into_one_body() {
        let mut wire = Pieces(vec![b"{\"a\":", b" 1", b"}"]);
        let mut body = RequestBody::wire(&mut wire);
        let bytes = buffer_body(&mut body, 64).await.unwrap();
        assert_eq!(&bytes[..], b"{\"a\": 1}");
    }

    #[tokio::test]
    async fn a_body_past_the_cap_is_refused() {
        let mut wire = Pieces(vec![b"0123456789", b"0123456789"]);
        let mut body = RequestBody::wire(&mut wire);
        assert_eq!(
            buffer_body(&mut body, 15).await,
            Err(BodyError::TooLarge { limit: 15 })
        );
        let mut body = RequestBody::full(Bytes::from_static(b"0123456789"));
        assert_eq!(
            buffer_body(&mut body, 9).await,
            Err(BodyError::TooLarge { limit: 9 })
        );
    }

    /// A body that sends its first piece and then nothing more, never ending.
    struct Trickle(bool);

    impl crate::forward::request_body::WireBody for Trickle {
        fn poll_data(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<Bytes, BodyError>>> {
            if std::mem::replace(&mut self.0, true) {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(Some(Ok(Bytes::from_static(b"x"))))
            }
        }
        fn is_end(&self) -> bool {
            false
        }
        fn remaining_length(&self) -> Option<u64> {
            Some(999)
        }
    }

    /// A client that stops sending is refused once it has paused for [`BODY_PAUSE`], not held
    /// for ever (the clock is tokio's, paused: the test takes no minute).
    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_sending_is_refused_after_the_pause() {
        let mut wire = Trickle(false);
        let mut body = RequestBody::wire(&mut wire);
        let started = tokio::time::Instant::now();
        let refused = buffer_body(&mut body, 1 << 20).await.unwrap_err();
        assert_eq!(refused, BodyError::Stalled(BODY_PAUSE));
        assert_eq!(refused.status(), http::StatusCode::REQUEST_TIMEOUT);
        assert_eq!(started.elapsed(), BODY_PAUSE);
    }
}
