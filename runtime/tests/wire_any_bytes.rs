//! Any bytes through meshd's own HTTP/1.1 wire parsers: request heads from clients, response
//! heads from upstreams, chunk-size lines and bodies. Nothing panics; every refusal is one of the
//! statuses the parser documents; and what a parser decides does not depend on how the bytes
//! were split across reads (a parser that decides differently on a prefix than on the whole is
//! a parser that two reads of the same request can make disagree with itself). Inputs are
//! arbitrary bytes and mutations of well-formed messages (flipped, inserted, deleted and repeated
//! bytes), so the checks reach past the first line.
//! `hostile_wire.rs` sends the same kind of input to a meshd process over sockets.

use bytes::BytesMut;
use meshd::forward::http1::body_decoder::{BodyDecoder, Decoded};
use meshd::forward::http1::chunk_line::{parse_chunk_line, MAX_CHUNK_SIZE};
use meshd::forward::http1::response_head::{parse_head, HeadParse, ResponseFraming};
use meshd::server::http1::request_head::{parse_request_head, RequestFraming};
use proptest::prelude::*;

mod wire_messages;
use wire_messages::*;

/// What parsing a request head decided, in terms that can be compared.
#[derive(Debug, PartialEq)]
enum RequestOutcome {
    NeedMore,
    Head {
        consumed: usize,
        method: String,
        target: String,
        authority: Option<String>,
        framing: RequestFraming,
        keep_alive: bool,
        expect_continue: bool,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
    },
    Refused(u16, &'static str),
}

fn parse_request(bytes: &[u8]) -> RequestOutcome {
    let mut buffer = BytesMut::from(bytes);
    match parse_request_head(&mut buffer) {
        Ok(None) => {
            assert_eq!(buffer.len(), bytes.len(), "a partial head consumed bytes");
            RequestOutcome::NeedMore
        }
        Ok(Some(head)) => {
            let consumed = bytes.len() - buffer.len();
            assert!(
                bytes[..consumed].ends_with(b"\r\n\r\n"),
                "a head accepted without its empty CRLF line"
            );
            RequestOutcome::Head {
                consumed,
                method: head.method.to_string(),
                target: head.target.to_string(),
                authority: head.target_authority.map(|a| a.to_string()),
                framing: head.framing,
                keep_alive: head.keep_alive,
                expect_continue: head.expect_continue,
                headers: head
                    .headers
                    .iter()
                    .map(|(name, value, _)| (name.to_vec(), value.to_vec()))
                    .collect(),
            }
        }
        Err(refusal) => {
            assert!(
                [400, 417, 431, 501, 505].contains(&refusal.status.as_u16()),
                "refused with {}",
                refusal.status
            );
            RequestOutcome::Refused(refusal.status.as_u16(), refusal.reason)
        }
    }
}

/// What parsing a response head decided.
#[derive(Debug, PartialEq)]
enum ResponseOutcome {
    NeedMore,
    Head {
        consumed: usize,
        status: u16,
        framing: ResponseFraming,
        keep_alive: bool,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
    },
    Refused(String),
}

fn parse_response(bytes: &[u8], head_request: bool) -> ResponseOutcome {
    let mut buffer = BytesMut::from(bytes);
    match parse_head(&mut buffer, head_request) {
        Ok(HeadParse::Partial) => ResponseOutcome::NeedMore,
        Ok(HeadParse::Complete(head)) => ResponseOutcome::Head {
            consumed: bytes.len() - buffer.len(),
            status: head.status.as_u16(),
            framing: head.framing,
            keep_alive: head.keep_alive,
            headers: head
                .headers
                .iter()
                .map(|(name, value, _)| (name.to_vec(), value.to_vec()))
                .collect(),
        },
        Err(error) => ResponseOutcome::Refused(error.to_string()),
    }
}

/// A whole body decoded from `pieces` read one after another, then end of stream.
#[derive(Debug, PartialEq)]
struct BodyOutcome {
    data: Vec<u8>,
    /// `Some(left over bytes)` once complete, `None` if the stream ended first.
    done: Option<usize>,
    refused: bool,
}

fn decode_pieces(mut decoder: BodyDecoder, bytes: &[u8], cuts: &[usize]) -> BodyOutcome {
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    ends.push(bytes.len());
    ends.sort_unstable();
    let mut buffer = BytesMut::new();
    let mut data = Vec::new();
    let mut from = 0;
    for end in ends {
        buffer.extend_from_slice(&bytes[from..end]);
        from = end;
        loop {
            match decoder.decode(&mut buffer) {
                Ok(Decoded::Data(piece)) => {
                    assert!(!piece.is_empty(), "an empty data piece");
                    data.extend_from_slice(&piece);
                }
                Ok(Decoded::Done) => {
                    return BodyOutcome {
                        data,
                        done: Some(buffer.len() + bytes.len() - from),
                        refused: false,
                    }
                }
                Ok(Decoded::NeedMore) => break,
                Err(_) => {
                    return BodyOutcome {
                        data,
                        done: None,
                        refused: true,
                    }
                }
            }
        }
    }
    BodyOutcome {
        data,
        done: None,
        refused: false,
    }
}

fn some_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..600)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn request_heads_of_any_bytes_are_refused_or_read_never_panicking(bytes in some_bytes()) {
        parse_request(&bytes);
    }

    #[test]
    fn a_request_head_is_decided_the_same_on_a_prefix_as_on_the_whole(
        message in request_message(),
        edits in prop::collection::vec(edit(), 0..4),
        cut in any::<usize>(),
    ) {
        let bytes = apply(message, &edits);
        let whole = parse_request(&bytes);
        let prefix = parse_request(&bytes[..cut % (bytes.len() + 1)]);
        if prefix != RequestOutcome::NeedMore {
            prop_assert_eq!(prefix, whole);
        }
    }

    #[test]
    fn response_heads_of_any_bytes_are_refused_or_read_never_panicking(
        bytes in some_bytes(),
        head_request in any::<bool>(),
    ) {
        parse_response(&bytes, head_request);
    }

    #[test]
    fn a_response_head_is_decided_the_same_on_a_prefix_as_on_the_whole(
        message in response_message(),
        edits in prop::collection::vec(edit(), 0..4),
        cut in any::<usize>(),
        head_request in any::<bool>(),
    ) {
        let bytes = apply(message, &edits);
        let whole = parse_response(&bytes, head_request);
        let prefix = parse_response(&bytes[..cut % (bytes.len() + 1)], head_request);
        if prefix != ResponseOutcome::NeedMore {
            prop_assert_eq!(prefix, whole);
        }
    }

    #[test]
    fn chunk_lines_of_any_bytes_are_refused_or_read_within_the_bound(bytes in some_bytes()) {
        let mut line = bytes;
        line.extend_from_slice(b"\r\n");
        if let Ok(chunk) = parse_chunk_line(&line) {
            prop_assert!(chunk.size <= MAX_CHUNK_SIZE);
            prop_assert!(chunk.extension_bytes < line.len());
        }
    }

    #[test]
    fn a_chunked_body_is_decoded_the_same_however_it_is_split_across_reads(
        body in chunked_body(),
        edits in prop::collection::vec(edit(), 0..4),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let bytes = apply(body, &edits);
        let whole = decode_pieces(BodyDecoder::chunked(), &bytes, &[]);
        let split = decode_pieces(BodyDecoder::chunked(), &bytes, &cuts);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn a_well_formed_chunked_body_decodes_to_its_data(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..5),
        trailers in prop::collection::vec(prop::sample::select(vec!["X-Sum: 1", "a: b"]), 0..3),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        after in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let with_extensions: Vec<(Vec<u8>, &str)> = chunks.iter().map(|c| (c.clone(), ";n=v")).collect();
        let mut bytes = encode_chunked(&with_extensions, &trailers);
        bytes.extend_from_slice(&after);
        let decoded = decode_pieces(BodyDecoder::chunked(), &bytes, &cuts);
        prop_assert_eq!(decoded, BodyOutcome { data: chunks.concat(), done: Some(after.len()), refused: false });
    }

    #[test]
    fn a_length_delimited_body_is_cut_at_its_length(
        bytes in some_bytes(),
        length in 0u64..700,
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let decoded = decode_pieces(BodyDecoder::with_length(length), &bytes, &cuts);
        let taken = (length as usize).min(bytes.len());
        prop_assert_eq!(&decoded.data[..], &bytes[..taken]);
        prop_assert_eq!(decoded.done, (length as usize <= bytes.len()).then(|| bytes.len() - taken));
    }
}

/// Trailers are bounded as a section (64 KiB), not per line like chunk-size lines: a trailer line
/// longer than a chunk-size line may be is accepted whether it arrives in one read or in many.
#[test]
fn a_long_trailer_line_is_accepted_however_it_arrives() {
    let long = format!("X-Long: {}", "v".repeat(6000));
    let bytes = encode_chunked(&[(b"hello".to_vec(), "")], &[&long]);
    let whole = decode_pieces(BodyDecoder::chunked(), &bytes, &[]);
    assert_eq!(whole.done, Some(0), "{whole:?}");
    let split = decode_pieces(BodyDecoder::chunked(), &bytes, &[20, 5000]);
    assert_eq!(split, whole);
}
