//! Cutting a body out of a connection's read buffer: by length, by chunks, or until the
//! connection closes. Upstream responses and client requests share it.

use bytes::{Bytes, BytesMut};

use super::chunk_line::{parse_chunk_line, strip_crlf};
use super::response_head::ResponseFraming;

/// The most bytes a chunk-size line (with extensions) may take.
const MAX_CHUNK_LINE: usize = 4096;
/// The most bytes of chunk extensions one body may carry. Extensions are skipped, not forwarded,
/// and do not count against a route's body limit: without a bound, a body of 1-byte chunks could
/// carry gigabytes of them under a 1 MiB limit.
const MAX_EXTENSION_BYTES: usize = 16 * 1024;
/// The most bytes the trailer section of a chunked body may take (trailers are not forwarded).
const MAX_TRAILER_BYTES: usize = 64 * 1024;

/// Where the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// `remaining` bytes of a length-delimited body.
    Length(u64),
    /// Waiting for a chunk-size line.
    ChunkSize,
    /// `remaining` bytes of the current chunk.
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// Trailer lines until the empty one.
    Trailers,
    /// Everything until close.
    UntilClose,
    /// The body is complete.
    Done,
}

/// What one decoding step produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes.
    Data(Bytes),
    /// The body is complete.
    Done,
    /// More bytes must be read first.
    NeedMore,
}

/// A body that cannot be decoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed chunked body")]
pub struct ChunkError;

/// Decodes one body.
#[derive(Debug)]
pub struct BodyDecoder {
    stage: Stage,
    trailer_bytes: usize,
    extension_bytes: usize,
}

impl BodyDecoder {
    /// A decoder for `framing`.
    pub fn new(framing: ResponseFraming) -> Self {
        let stage = match framing {
            ResponseFraming::Empty | ResponseFraming::Length(0) => Stage::Done,
            ResponseFraming::Length(n) => Stage::Length(n),
            ResponseFraming::Chunked => Stage::ChunkSize,
            ResponseFraming::UntilClose => Stage::UntilClose,
        };
        BodyDecoder {
            stage,
            trailer_bytes: 0,
            extension_bytes: 0,
        }
    }

    /// A decoder for a body of exactly `length` bytes.
    pub fn with_length(length: u64) -> Self {
        Self::new(ResponseFraming::Length(length))
    }

    /// A decoder for a chunked body.
    pub fn chunked() -> Self {
        Self::new(ResponseFraming::Chunked)
    }

    /// A decoder for no body.
    pub fn empty() -> Self {
        Self::new(ResponseFraming::Empty)
    }

    /// Whether the body is complete.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// The bytes left of a length-delimited body (0 when done), or `None` when unknown.
    pub fn remaining_length(&self) -> Option<u64> {
        match self.stage {
            Stage::Length(n) => Some(n),
            Stage::Done => Some(0),
            _ => None,
        }
    }

    /// Whether end of stream ends the body normally.
    pub fn ends_at_close(&self) -> bool {
        self.stage == Stage::UntilClose
    }

    /// Takes the next piece of the body from `buffer`.
    pub fn decode(&mut self, buffer: &mut BytesMut) -> Result<Decoded, ChunkError> {
        loop {
            match self.stage {
                Stage::Done => return Ok(Decoded::Done),
                Stage::Length(remaining) | Stage::ChunkData(remaining) => {
                    if buffer.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let take = remaining.min(buffer.len() as u64) as usize;
                    let data = buffer.split_to(take).freeze();
                    let left = remaining - take as u64;
                    self.stage = match (self.stage, left) {
                        (Stage::Length(_), 0) => Stage::Done,
                        (Stage::Length(_), n) => Stage::Length(n),
                        (_, 0) => Stage::ChunkEnd,
                        (_, n) => Stage::ChunkData(n),
                    };
                    return Ok(Decoded::Data(data));
                }
                Stage::UntilClose => {
                    if buffer.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    return Ok(Decoded::Data(buffer.split().freeze()));
                }
                Stage::ChunkSize | Stage::ChunkEnd | Stage::Trailers => {
                    let Some(end) = buffer.iter().position(|b| *b == b'\n') else {
                        // The line's bound, whether or not its end has arrived: the same
                        // bytes must not pass in one read and fail across two.
                        if buffer.len() > self.line_bound() {
                            return Err(ChunkError);
                        }
                        return Ok(Decoded::NeedMore);
                    };
                    if self.stage == Stage::Trailers {
                        self.trailer_bytes += end + 1;
                        if self.trailer_bytes > MAX_TRAILER_BYTES {
                            return Err(ChunkError);
                        }
                    } else if end > MAX_CHUNK_LINE {
                        return Err(ChunkError);
                    }
                    let line = buffer.split_to(end + 1);
                    self.stage = self.after_line(&line)?;
                }
            }
        }
    }

    /// The most bytes the next line may take: a chunk-size line's bound, or, in the trailers,
    /// what is left of the section's.
    fn line_bound(&self) -> usize {
        match self.stage {
            Stage::Trailers => MAX_TRAILER_BYTES - self.trailer_bytes,
            _ => MAX_CHUNK_LINE,
        }
    }

    /// The stage after `line` (which ends with its LF, and must end with CRLF).
    fn after_line(&mut self, line: &[u8]) -> Result<Stage, ChunkError> {
        match self.stage {
            Stage::ChunkEnd | Stage::Trailers => {
                let content = strip_crlf(line).map_err(|_| ChunkError)?;
                Ok(match (self.stage, content.is_empty()) {
                    (Stage::ChunkEnd, true) => Stage::ChunkSize,
                    (Stage::ChunkEnd, false) => return Err(ChunkError),
                    (_, true) => Stage::Done,
                    (_, false) => Stage::Trailers,
                })
            }
            _ => {
                let chunk = parse_chunk_line(line).map_err(|_| ChunkError)?;
                self.extension_bytes += chunk.extension_bytes;
                if self.extension_bytes > MAX_EXTENSION_BYTES {
                    return Err(ChunkError);
                }
                Ok(if chunk.size == 0 {
                    Stage::Trailers
                } else {
                    Stage::ChunkData(chunk.size)
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(framing: ResponseFraming, pieces: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut decoder = BodyDecoder::new(framing);
        let mut buffer = BytesMut::new();
        let mut body = Vec::new();
        for piece in pieces {
            buffer.extend_from_slice(piece);
            loop {
                match decoder.decode(&mut buffer).unwrap() {
                    Decoded::Data(data) => body.extend_from_slice(&data),
                    Decoded::Done => return (body, buffer.is_empty()),
                    Decoded::NeedMore => break,
                }
            }
        }
        (body, false)
    }

    #[test]
    fn a_length_body_stops_at_its_length_and_leaves_the_rest() {
        let mut decoder = BodyDecoder::new(ResponseFraming::Length(5));
        let mut buffer = BytesMut::from("helloHTTP/1.1");
        assert_eq!(
            decoder.decode(&mut buffer).unwrap(),
            Decoded::Data(Bytes::from("hello"))
        );
        assert_eq!(decoder.decode(&mut buffer).unwrap(), Decoded::Done);
        assert_eq!(&buffer[..], b"HTTP/1.1");
    }

    #[test]
    fn chunks_split_across_reads_are_reassembled_with_trailers_skipped() {
        let stream = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
        let pieces: Vec<&[u8]> = stream.chunks(3).collect();
        assert_eq!(
            decode_all(ResponseFraming::Chunked, &pieces),
            (b"hello world".to_vec(), true)
        );
    }

    #[test]
    fn malformed_chunks_are_errors() {
        for bad in [
            "zz\r\n",
            "+5\r\n",
            "\r\n",
            "11111111111111111\r\n",
            "-1\r\n",
        ] {
            let mut decoder = BodyDecoder::chunked();
            let mut buffer = BytesMut::from(bad);
            assert!(decoder.decode(&mut buffer).is_err(), "{bad:?}");
        }
        let mut decoder = BodyDecoder::new(ResponseFraming::Chunked);
        let mut buffer = BytesMut::from("1\r\nab\r\n");
        let _ = decoder.decode(&mut buffer).unwrap();
        assert!(decoder.decode(&mut buffer).is_err());
    }

    #[test]
    fn bare_line_feeds_anywhere_in_the_framing_are_refused() {
        for bad in [
            "5\nhello\r\n0\r\n\r\n",
            "5\r\nhello\n0\r\n\r\n",
            "5\r\nhello\r\n0\n\r\n",
            "5\r\nhello\r\n0\r\nX-T: 1\n\r\n",
            "5\r\nhello\r\n0\r\n\n",
        ] {
            let mut decoder = BodyDecoder::chunked();
            let mut buffer = BytesMut::from(bad);
            let refused = std::iter::from_fn(|| Some(decoder.decode(&mut buffer)))
                .take(10)
                .any(|step| step.is_err());
            assert!(refused, "{bad:?}");
        }
    }

    #[test]
    fn a_huge_chunk_size_is_refused_before_any_data_is_awaited() {
        let mut decoder = BodyDecoder::chunked();
        let mut buffer = BytesMut::from("ffffffffffffffff\r\nhello\r\n0\r\n\r\n");
        assert!(decoder.decode(&mut buffer).is_err());
    }

    #[test]
    fn chunk_extensions_are_bounded_per_body() {
        let mut decoder = BodyDecoder::chunked();
        let extension = format!(";e={}", "x".repeat(1000));
        let mut buffer = BytesMut::new();
        let mut accepted = 0;
        'chunks: for _ in 0..100 {
            buffer.extend_from_slice(format!("1{extension}\r\na\r\n").as_bytes());
            loop {
                match decoder.decode(&mut buffer) {
                    Ok(Decoded::Data(data)) => {
                        assert_eq!(data, Bytes::from("a"));
                        accepted += 1;
                    }
                    Ok(Decoded::NeedMore) => break,
                    Ok(Decoded::Done) => panic!("no last chunk was sent"),
                    Err(_) => break 'chunks,
                }
            }
        }
        // 16 KiB of extensions at 1002 bytes a chunk: the 17th chunk is refused.
        assert_eq!(accepted, 16);
    }

    #[test]
    fn endless_trailers_are_refused() {
        let mut decoder = BodyDecoder::chunked();
        let mut buffer = BytesMut::from("0\r\n");
        assert_eq!(decoder.decode(&mut buffer).unwrap(), Decoded::NeedMore);
        let mut refused = false;
        for _ in 0..10_000 {
            buffer.extend_from_slice(b"X-Trailer: 0123456789\r\n");
            if decoder.decode(&mut buffer).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused);
    }

    #[test]
    fn an_until_close_body_takes_everything() {
        let mut decoder = BodyDecoder::new(ResponseFraming::UntilClose);
        let mut buffer = BytesMut::from("abc");
        assert_eq!(
            decoder.decode(&mut buffer).unwrap(),
            Decoded::Data(Bytes::from("abc"))
        );
        assert_eq!(decoder.decode(&mut buffer).unwrap(), Decoded::NeedMore);
        assert!(decoder.ends_at_close());
    }
}
