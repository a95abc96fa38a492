//! The bundle digest.
//!
//! `digest` = `"sha256:"` followed by the lower-case hex SHA-256 of the UTF-8 bytes of
//! [`Bundle::to_canonical_json`] computed on a copy of the bundle whose `digest` field is the
//! empty string `""`. Canonical JSON means: object keys sorted by byte order at every level, no
//! whitespace between tokens, strings escaped as serde_json does (only `"`, `\` and control
//! characters; other characters as raw UTF-8), integers in plain decimal.
//! To check by hand: `jq -cS '.digest=""' bundle.json | tr -d '\n' | sha256sum`
//! (jq's escaping agrees with serde_json for the strings a bundle holds).

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
    fn sealing_twice_gives_the_same_digest() {
        let mut bundle = starfleet_bundle();
        let first = bundle.digest.clone();
        bundle.seal();
        assert_eq!(bundle.digest, first);
    }
}
