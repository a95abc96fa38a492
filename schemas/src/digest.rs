//! The bundle digest.
//!
//! `digest` = `"sha256:"` followed by the lower-case hex SHA-256 of the UTF-8 bytes of
//! [`Bundle::to_canonical_json`] computed on a copy of the bundle whose `digest` field is the
//! empty string `""`. Canonical JSON means: object keys sorted by byte order at every level, no
//! whitespace between tokens, strings escaped as serde_json does (only `"`, `\` and control
//! characters; other characters as raw UTF-8), integers in plain decimal.
//! To check by hand: `jq -cS '.digest=""' bundle.json | tr -d '\n' | sha256sum`
//! (jq's escaping agrees with serde_json for the strings a bundle holds).
//!
//! A reader given the compact canonical text itself (a `*.json.zst` bundle decompressed) checks
//! the digest on those bytes, the digest's value left out, instead of printing the bundle again:
//! see [`Bundle::verify_digest_of_text`].

use std::ops::Range;

use sha2::{Digest, Sha256};

use crate::canonical_json::{bundle_bytes, Layout};
use crate::types::bundle::Bundle;

/// The prefix of every digest; names the hash so it can change later.
pub const DIGEST_PREFIX: &str = "sha256:";

/// Why a bundle's recorded digest does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The bundle was never sealed.
    #[error("the bundle has no digest (it was never sealed)")]
    Missing,
    /// The content changed after sealing, or the digest was edited.
    #[error("digest mismatch: the bundle records {recorded} but its content hashes to {computed}")]
    Mismatch {
        /// The digest written in the bundle.
        recorded: String,
        /// The digest of the bundle's content.
        computed: String,
    },
}

/// Computes the digest of `bundle`'s content, ignoring whatever its `digest` field holds.
pub fn compute_digest(bundle: &Bundle) -> String {
    let canonical = bundle_bytes(bundle, "", Layout::Compact);
    let hash = Sha256::digest(&canonical);
    format!("{DIGEST_PREFIX}{}", hex::encode(hash))
}

impl Bundle {
    /// Computes the digest of the content and records it in `digest`.
    pub fn seal(&mut self) {
        self.digest = compute_digest(self);
    }

    /// Seals the bundle and returns its compact canonical text, digest included: what
    /// [`Bundle::seal`] then [`Bundle::to_canonical_json`] give, printed once instead of twice
    /// (the digest's value is written into the text it was taken over). `meshc build` writes
    /// this text, compressed, as a `*.json.zst` bundle.
    pub fn seal_to_canonical(&mut self) -> Vec<u8> {
        let mut text = bundle_bytes(self, "", Layout::Compact);
        self.digest = format!("{DIGEST_PREFIX}{}", hex::encode(Sha256::digest(&text)));
        match compact_digest_value(&text) {
            Some(empty) => {
                text.splice(empty.start..empty.end, self.digest.bytes());
                text
            }
            // Unreachable while `compiler` is the first key; printing again stays correct.
            None => bundle_bytes(self, &self.digest, Layout::Compact),
        }
    }

    /// Checks that the recorded digest matches the content.
    pub fn verify_digest(&self) -> Result<(), DigestError> {
        if self.digest.is_empty() {
            return Err(DigestError::Missing);
        }
        let computed = compute_digest(self);
        if computed == self.digest {
            Ok(())
        } else {
            Err(DigestError::Mismatch {
                recorded: self.digest.clone(),
                computed,
            })
        }
    }
}

/// What the compact canonical text of a bundle says of its digest, found without parsing it:
/// the digest the text records and the digest its content hashes to. A reader computes this
/// beside the parse (it needs only the bytes) and then checks it with
/// [`Bundle::verify_digest_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextDigest {
    /// The digest written in the text.
    pub recorded: String,
    /// `sha256:` and the hash of the text with the digest's value left out.
    pub computed: String,
}

/// Whether `text` begins as the compact canonical form does (`{"compiler":{…},"digest":"`):
/// then [`text_digest`] can check its digest on the text. Reads only that beginning.
pub fn laid_out_compact(text: &[u8]) -> bool {
    compact_digest_value(text).is_some()
}

/// [`TextDigest`] of `text` when it is laid out as the compact canonical form (it starts
/// `{"compiler":{…},"digest":"`); `None` for any other layout.
pub fn text_digest(text: &[u8]) -> Option<TextDigest> {
    let value = compact_digest_value(text)?;
    let recorded = std::str::from_utf8(&text[value.clone()]).ok()?.to_string();
    let mut hasher = Sha256::new();
    hasher.update(&text[..value.start]);
    hasher.update(&text[value.end..]);
    let computed = format!("{DIGEST_PREFIX}{}", hex::encode(hasher.finalize()));
    Some(TextDigest { recorded, computed })
}

impl Bundle {
    /// [`Bundle::verify_digest`] for a bundle parsed from `text`. When `text` is laid out as the
    /// compact canonical form (it starts `{"compiler":{…},"digest":"`), the digest is checked
    /// over `text` with its value emptied, which is the canonical form if the text is canonical,
    /// and costs one pass of SHA-256. Bytes that hash to the recorded digest are the bytes that
    /// were sealed (and signed), whatever their layout. Any other text, or a mismatch, falls
    /// back to printing the canonical form, which also names the digest the content has.
    pub fn verify_digest_of_text(&self, text: &[u8]) -> Result<(), DigestError> {
        self.verify_digest_with(text_digest(text).as_ref())
    }

    /// [`Bundle::verify_digest_of_text`] given the [`text_digest`] of the text it was parsed
    /// from (computed beforehand, or beside the parse).
    pub fn verify_digest_with(&self, text: Option<&TextDigest>) -> Result<(), DigestError> {
        if self.digest.is_empty() {
            return Err(DigestError::Missing);
        }
        if let Some(text) = text {
            if text.recorded == self.digest && text.computed == self.digest {
                return Ok(());
            }
        }
        self.verify_digest()
    }
}

/// Where the digest's value sits in `text` if it begins as compact canonical JSON does: the
/// `compiler` object first, then `"digest":"…"`.
fn compact_digest_value(text: &[u8]) -> Option<Range<usize>> {
    const OPEN: &[u8] = b"{\"compiler\":";
    const KEY: &[u8] = b",\"digest\":\"";
    let compiler_end = OPEN.len() + object_length(text.get(OPEN.len()..)?)?;
    let start = compiler_end + KEY.len();
    if !text.get(compiler_end..)?.starts_with(KEY) {
        return None;
    }
    let length = text.get(start..)?.iter().position(|&b| b == b'"')?;
    Some(start..start + length)
}

/// The length of the JSON object `bytes` begin with, through its closing brace.
fn object_length(bytes: &[u8]) -> Option<usize> {
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &byte) in bytes.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::starfleet_bundle;

    #[test]
    fn a_sealed_bundle_verifies() {
        let bundle = starfleet_bundle();
        assert!(bundle.digest.starts_with(DIGEST_PREFIX));
        assert_eq!(bundle.digest.len(), DIGEST_PREFIX.len() + 64);
        assert_eq!(bundle.verify_digest(), Ok(()));
    }

    #[test]
    fn the_digest_hashes_canonical_json_with_an_empty_digest_field() {
        let mut bundle = starfleet_bundle();
        let recorded = bundle.digest.clone();
        bundle.digest = String::new();
        let expected = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(bundle.to_canonical_json()))
        );
        assert_eq!(recorded, expected);
    }

    #[test]
    fn changing_content_after_sealing_is_a_mismatch() {
        let mut bundle = starfleet_bundle();
        bundle.gateways[0].routes[0].name.push('x');
        assert!(matches!(
            bundle.verify_digest(),
            Err(DigestError::Mismatch { .. })
        ));
    }

    #[test]
    fn an_unsealed_bundle_has_a_missing_digest() {
        let mut bundle = starfleet_bundle();
        bundle.digest.clear();
        assert_eq!(bundle.verify_digest(), Err(DigestError::Missing));
    }

    #[test]
    fn the_digest_ignores_what_the_digest_field_holds() {
        let mut bundle = starfleet_bundle();
        let sealed = compute_digest(&bundle);
        bundle.digest = "sha256:anything".to_string();
        assert_eq!(compute_digest(&bundle), sealed);
    }

    #[test]
    fn the_digest_holds_over_the_compact_text_and_the_pretty_text() {
        let bundle = starfleet_bundle();
        let compact = bundle.to_canonical_json();
        assert!(compact_digest_value(compact.as_bytes()).is_some());
        assert_eq!(bundle.verify_digest_of_text(compact.as_bytes()), Ok(()));
        let pretty = bundle.to_pretty_json();
        assert!(compact_digest_value(pretty.as_bytes()).is_none());
        assert_eq!(bundle.verify_digest_of_text(pretty.as_bytes()), Ok(()));
    }

    #[test]
    fn an_edited_compact_text_fails_with_the_digest_of_its_content() {
        let bundle = starfleet_bundle();
        let edited =
            bundle
                .to_canonical_json()
                .replacen("\"timeout_ms\":2000", "\"timeout_ms\":2001", 1);
        let parsed = Bundle::from_json(&edited).unwrap();
        assert_ne!(parsed, bundle, "the edit must change the content");
        let Err(DigestError::Mismatch { computed, .. }) =
            parsed.verify_digest_of_text(edited.as_bytes())
        else {
            panic!("an edited bundle must not verify");
        };
        assert_eq!(computed, compute_digest(&parsed));
    }

    #[test]
    fn the_compiler_object_is_skipped_whatever_its_strings_hold() {
        let mut bundle = starfleet_bundle();
        bundle.compiler.name = r#"m{e"s\h}c","digest":""#.to_string();
        bundle.seal();
        let compact = bundle.to_canonical_json();
        let value = compact_digest_value(compact.as_bytes()).unwrap();
        assert_eq!(&compact[value], bundle.digest);
        assert_eq!(bundle.verify_digest_of_text(compact.as_bytes()), Ok(()));
    }

    #[test]
    fn sealing_to_canonical_text_gives_the_text_and_digest_of_seal() {
        let mut expected = starfleet_bundle();
        expected.compiler.version = "0.0.0-test".to_string();
        expected.seal();
        let mut bundle = expected.clone();
        bundle.digest = "sha256:stale".to_string();
        let text = bundle.seal_to_canonical();
        assert_eq!(bundle.digest, expected.digest);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            expected.to_canonical_json()
        );
    }

    #[test]
    fn sealing_twice_gives_the_same_digest() {
        let mut bundle = starfleet_bundle();
        let first = bundle.digest.clone();
        bundle.seal();
        assert_eq!(bundle.digest, first);
    }
}
