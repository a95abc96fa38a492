//! Reading a whole request body into memory, for what needs all of it before anything is sent
//! upstream: a condition reading `request.body`, a Kafka `produce` route. Bodies are otherwise
//! streamed. A body past the cap is refused (413) as soon as it grows past it, without reading
//! the rest.

use bytes::{Bytes, BytesMut};

use crate::forward::{BodyError, RequestBody};

/// The most a body is buffered to when the route declares no `body_limit` (the decision
/// core's, so `meshc test` refuses the same bodies).
pub const DEFAULT_BUFFER_LIMIT: u64 = crate::admit::BODY_BUFFER_LIMIT;

/// Reads `body` to its end, refusing it once it is longer than `limit` bytes. A body that
/// arrives in one piece is returned without copying.
pub async fn buffer_body(body: &mut RequestBody<'_>, limit: u64) -> Result<Bytes, BodyError> {
    if body.remaining_length().is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut first: Option<Bytes> = None;
    let mut gathered = BytesMut::new();
    while let Some(piece) = body.next().await {
        let piece = piece?;
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
}
