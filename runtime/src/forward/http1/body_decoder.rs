//! Cutting a body out of a connection's read buffer: by length, by chunks, or until the
//! connection closes. Upstream responses and client requests share it.

use bytes::{Bytes, BytesMut};

use super::response_head::ResponseFraming;

/// The most bytes a chunk-size line (with extensions) may take.
const MAX_CHUNK_LINE: usize = 4096;
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
                        if buffer.len() > MAX_CHUNK_LINE {
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
                    let line = line.strip_suffix(b"\n").unwrap_or(&line);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    self.stage = self.after_line(line)?;
                }
            }
        }
    }

    fn after_line(&self, line: &[u8]) -> Result<Stage, ChunkError> {
        match self.stage {
            Stage::ChunkEnd if line.is_empty() => Ok(Stage::ChunkSize),
            Stage::ChunkEnd => Err(ChunkError),
            Stage::Trailers if line.is_empty() => Ok(Stage::Done),
            Stage::Trailers => Ok(Stage::Trailers),
            _ => {
                // chunk-size [ BWS ";" chunk-ext ]: hexadecimal digits only (no sign, at most 16).
                let digits = line
                    .split(|b| *b == b';')
                    .next()
                    .unwrap_or(b"")
                    .trim_ascii();
                if digits.is_empty()
                    || digits.len() > 16
                    || !digits.iter().all(u8::is_ascii_hexdigit)
                {
                    return Err(ChunkError);
                }
                let size = digits
                    .iter()
                    .fold(0u64, |size, d| (size << 4) | u64::from(hex_value(*d)));
                Ok(if size == 0 {
                    Stage::Trailers
                } else {
                    Stage::ChunkData(size)
                })
            }
        }
    }
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
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
