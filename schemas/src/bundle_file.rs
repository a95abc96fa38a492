//! How a bundle is stored in a file: JSON, or the canonical JSON compressed with zstd.
//!
//! The content is always the same canonical document (see [`crate::digest`]); only its bytes on
//! disk differ:
//! - **JSON** (`*.json`): the canonical form pretty-printed (sorted keys, 2-space indent,
//!   final newline), for people and diffs;
//! - **compressed** (`*.json.zst`): the canonical compact form, digest included, as one zstd
//!   frame that records its content size. A 100 000-route bundle is 104 MB of compact JSON and
//!   about 2 MB compressed (a tenth of its `.mesh` source); `zstdcat bundle.json.zst | jq`
//!   reads it.
//!
//! Readers tell the two apart by the zstd magic number, not by the name.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use crate::types::bundle::Bundle;

/// The first four bytes of a zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// The most JSON a compressed bundle may expand to: far above any real program (100 000 routes
/// are 104 MB), low enough that a hostile frame cannot exhaust memory.
pub const MAX_BUNDLE_TEXT: u64 = 1 << 30;

/// zstd's level for bundles: its default, which compresses bundles 50× at over 500 MB/s.
const ZSTD_LEVEL: i32 = 3;

/// How a bundle file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleEncoding {
    /// Pretty canonical JSON.
    Json,
    /// Compact canonical JSON in one zstd frame.
    Zstd,
}

impl BundleEncoding {
    /// The encoding a file name asks for: `*.zst` is compressed, anything else JSON.
    pub fn for_path(path: &Path) -> Self {
        if path.extension().is_some_and(|e| e == "zst") {
            BundleEncoding::Zstd
        } else {
            BundleEncoding::Json
        }
    }
}

/// Why the bytes of a bundle file cannot be turned into JSON text.
#[derive(Debug, thiserror::Error)]
pub enum BundleFileError {
    /// A zstd frame that does not decompress.
    #[error("the compressed bundle is corrupt: {0}")]
    Corrupt(#[source] std::io::Error),
    /// A zstd frame that expands past the limit: [`MAX_BUNDLE_TEXT`], or the text length a
    /// signature vouches for.
    #[error("the compressed bundle expands past {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
}

/// Writes `bundle` (already sealed) in `encoding`.
pub fn encode(bundle: &Bundle, encoding: BundleEncoding) -> Vec<u8> {
    match encoding {
        BundleEncoding::Json => bundle.to_pretty_json().into_bytes(),
        BundleEncoding::Zstd => compress(bundle.to_canonical_json().as_bytes()),
    }
}

/// One zstd frame of `text`, its content size recorded so readers allocate once.
pub fn compress(text: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(text, ZSTD_LEVEL)
        .expect("compressing a buffer in memory fails only when zstd cannot allocate")
}

/// Whether `bytes` start with a zstd frame.
pub fn is_compressed(bytes: &[u8]) -> bool {
    bytes.starts_with(&ZSTD_MAGIC)
}

/// The JSON text of a bundle file: `bytes` as they are, or decompressed when they are zstd.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, [u8]>, BundleFileError> {
    decode_within(bytes, MAX_BUNDLE_TEXT)
}

/// The length of the JSON text of a bundle file, counted without keeping the text.
pub fn text_length(bytes: &[u8]) -> Result<u64, BundleFileError> {
    if !is_compressed(bytes) {
        return Ok(bytes.len() as u64);
    }
    let decoder =
        zstd::stream::read::Decoder::with_buffer(bytes).map_err(BundleFileError::Corrupt)?;
    let length = std::io::copy(&mut decoder.take(MAX_BUNDLE_TEXT + 1), &mut std::io::sink())
        .map_err(BundleFileError::Corrupt)?;
    match length > MAX_BUNDLE_TEXT {
        true => Err(BundleFileError::TooLarge {
            limit: MAX_BUNDLE_TEXT,
        }),
        false => Ok(length),
    }
}

/// [`decode`], expanding a compressed bundle to no more than `limit` bytes (at most
/// [`MAX_BUNDLE_TEXT`]).
pub fn decode_within(bytes: &[u8], limit: u64) -> Result<Cow<'_, [u8]>, BundleFileError> {
    let limit = limit.min(MAX_BUNDLE_TEXT);
    if !is_compressed(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    // Allocate the recorded size once (bounded: the header is untrusted); a frame without it,
    // or several frames, grow the buffer as they go.
    let recorded = zstd::zstd_safe::get_frame_content_size(bytes)
        .ok()
        .flatten()
        .unwrap_or(0)
        .min(limit);
    let mut text = Vec::with_capacity(usize::try_from(recorded).unwrap_or(0));
    let decoder =
        zstd::stream::read::Decoder::with_buffer(bytes).map_err(BundleFileError::Corrupt)?;
    decoder
        .take(limit + 1)
        .read_to_end(&mut text)
        .map_err(BundleFileError::Corrupt)?;
    if text.len() as u64 > limit {
        return Err(BundleFileError::TooLarge { limit });
    }
    Ok(Cow::Owned(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::starfleet_bundle;

    #[test]
    fn the_name_chooses_the_encoding() {
        assert_eq!(
            BundleEncoding::for_path(Path::new("out/bundle.json.zst")),
            BundleEncoding::Zstd
        );
        assert_eq!(
            BundleEncoding::for_path(Path::new("bundle.json")),
            BundleEncoding::Json
        );
    }

    #[test]
    fn a_compressed_bundle_decodes_to_its_canonical_text() {
        let bundle = starfleet_bundle();
        let bytes = encode(&bundle, BundleEncoding::Zstd);
        assert!(is_compressed(&bytes));
        assert!(bytes.len() < bundle.to_canonical_json().len());
        assert_eq!(
            decode(&bytes).unwrap().as_ref(),
            bundle.to_canonical_json().as_bytes()
        );
    }

    #[test]
    fn json_decodes_to_itself_without_a_copy() {
        let text = starfleet_bundle().to_pretty_json();
        assert!(matches!(decode(text.as_bytes()).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn a_truncated_or_garbled_frame_is_corrupt() {
        let bytes = encode(&starfleet_bundle(), BundleEncoding::Zstd);
        assert!(matches!(
            decode(&bytes[..bytes.len() / 2]),
            Err(BundleFileError::Corrupt(_))
        ));
        let mut garbled = bytes.clone();
        for byte in garbled.iter_mut().skip(8) {
            *byte ^= 0x5a;
        }
        assert!(decode(&garbled).is_err());
        assert!(decode(&ZSTD_MAGIC).is_err());
    }

    #[test]
    fn a_frame_that_expands_past_the_limit_is_refused() {
        // 4 MiB + 1 of zeros compress to a few hundred bytes; the header claims the size.
        let bomb = compress(&vec![0u8; (4 << 20) + 1]);
        assert!(bomb.len() < 4096);
        assert!(matches!(
            decode_within(&bomb, 4 << 20),
            Err(BundleFileError::TooLarge { limit }) if limit == 4 << 20
        ));
        assert!(decode_within(&bomb, (4 << 20) + 1).is_ok());
    }

    #[test]
    fn the_text_length_is_counted_in_either_encoding() {
        let bundle = starfleet_bundle();
        let pretty = encode(&bundle, BundleEncoding::Json);
        assert_eq!(text_length(&pretty).unwrap(), pretty.len() as u64);
        let compressed = encode(&bundle, BundleEncoding::Zstd);
        assert_eq!(
            text_length(&compressed).unwrap(),
            bundle.to_canonical_json().len() as u64
        );
        assert!(text_length(&compressed[..compressed.len() / 2]).is_err());
    }
}
