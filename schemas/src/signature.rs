//! Detached ed25519 bundle signatures: the format both sides share (`meshc build --sign` writes
//! them, `meshd` checks them).
//!
//! A signature signs the message `"meshwork bundle signature v1\n" + digest`; the digest already
//! covers every byte of content (the serial included), so a bundle whose digest holds and whose
//! signature verifies is the bundle that was signed. It lives beside the bundle in `<bundle>.sig`
//! so the bundle's bytes stay exactly as the compiler wrote them.
//!
//! Key and signature files are one line of text: `ed25519-private <hex seed>`,
//! `ed25519-public <hex key>` and `ed25519-signature <hex signature>`.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// The domain-separation prefix of the signed message.
const MESSAGE_PREFIX: &str = "meshwork bundle signature v1\n";
const PRIVATE_TAG: &str = "ed25519-private";
const PUBLIC_TAG: &str = "ed25519-public";
const SIGNATURE_TAG: &str = "ed25519-signature";

/// What a key or signature text is, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureText {
    /// `ed25519-private …`.
    PrivateKey,
    /// `ed25519-public …`.
    PublicKey,
    /// `ed25519-signature …`.
    Signature,
}

impl std::fmt::Display for SignatureText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureText::PrivateKey => "private key",
            SignatureText::PublicKey => "public key",
            SignatureText::Signature => "signature",
        })
    }
}

/// Why a signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureCheckError {
    /// The text is not in the expected one-line format.
    #[error("not a {0} (expected one line `ed25519-… <hex>`)")]
    Malformed(SignatureText),
    /// The signature does not verify with the key.
    #[error("the signature does not verify with the given key")]
    BadSignature,
}

fn message(digest: &str) -> Vec<u8> {
    format!("{MESSAGE_PREFIX}{digest}").into_bytes()
}

fn parse_tagged<const N: usize>(
    text: &str,
    tag: &str,
    kind: SignatureText,
) -> Result<[u8; N], SignatureCheckError> {
    let malformed = || SignatureCheckError::Malformed(kind);
    let hex_text = text
        .trim()
        .strip_prefix(tag)
        .map(str::trim)
        .ok_or_else(malformed)?;
    let bytes = hex::decode(hex_text).map_err(|_| malformed())?;
    bytes.try_into().map_err(|_| malformed())
}

/// The texts of a key pair made from a 32-byte random seed: (private, public), each ending in a
/// newline.
pub fn key_pair_texts(seed: [u8; 32]) -> (String, String) {
    let key = SigningKey::from_bytes(&seed);
    (
        format!("{PRIVATE_TAG} {}\n", hex::encode(seed)),
        format!(
            "{PUBLIC_TAG} {}\n",
            hex::encode(key.verifying_key().to_bytes())
        ),
    )
}

/// Signs `digest` with the private key text; returns the signature file's text.
pub fn sign_digest(private_key: &str, digest: &str) -> Result<String, SignatureCheckError> {
    let seed: [u8; 32] = parse_tagged(private_key, PRIVATE_TAG, SignatureText::PrivateKey)?;
    let signature = SigningKey::from_bytes(&seed).sign(&message(digest));
    Ok(format!(
        "{SIGNATURE_TAG} {}\n",
        hex::encode(signature.to_bytes())
    ))
}

/// A public key bundles must be signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses an `ed25519-public` text.
    pub fn parse(text: &str) -> Result<PublicKey, SignatureCheckError> {
        let bytes: [u8; 32] = parse_tagged(text, PUBLIC_TAG, SignatureText::PublicKey)?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| SignatureCheckError::Malformed(SignatureText::PublicKey))
    }

    /// Checks a signature text against a bundle's (already verified) digest.
    pub fn verify(&self, digest: &str, signature: &str) -> Result<(), SignatureCheckError> {
        let bytes: [u8; 64] = parse_tagged(signature, SIGNATURE_TAG, SignatureText::Signature)?;
        self.0
            .verify_strict(&message(digest), &Signature::from_bytes(&bytes))
            .map_err(|_| SignatureCheckError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_digest_verifies_and_another_digest_does_not() {
        let (private, public) = key_pair_texts([7; 32]);
        let signature = sign_digest(&private, "sha256:aa").unwrap();
        let key = PublicKey::parse(&public).unwrap();
        key.verify("sha256:aa", &signature).unwrap();
        assert_eq!(
            key.verify("sha256:ab", &signature),
            Err(SignatureCheckError::BadSignature)
        );
    }

    #[test]
    fn another_key_does_not_verify() {
        let (private, _) = key_pair_texts([1; 32]);
        let (_, other) = key_pair_texts([2; 32]);
        let signature = sign_digest(&private, "sha256:aa").unwrap();
        assert_eq!(
            PublicKey::parse(&other)
                .unwrap()
                .verify("sha256:aa", &signature),
            Err(SignatureCheckError::BadSignature)
        );
    }

    #[test]
    fn texts_of_the_wrong_kind_are_malformed() {
        let (private, public) = key_pair_texts([3; 32]);
        assert_eq!(
            PublicKey::parse(&private),
            Err(SignatureCheckError::Malformed(SignatureText::PublicKey))
        );
        assert!(sign_digest(&public, "sha256:aa").is_err());
        let key = PublicKey::parse(&public).unwrap();
        assert_eq!(
            key.verify("sha256:aa", "ed25519-signature zz"),
            Err(SignatureCheckError::Malformed(SignatureText::Signature))
        );
        assert!(key.verify("sha256:aa", "\u{0}\u{ff}garbage").is_err());
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// A signature with any of its hex digits changed to another value never verifies
        /// (ed25519's strict check refuses the malleable twin too); any text as a signature or
        /// key is refused without a panic.
        #[test]
        fn only_the_signature_made_verifies(
            changes in prop::collection::vec((any::<prop::sample::Index>(), 1u8..16), 1..4),
            noise in "\\PC{0,200}",
        ) {
            let (private, public) = key_pair_texts([9; 32]);
            let key = PublicKey::parse(&public).unwrap();
            let signature = sign_digest(&private, "sha256:feed").unwrap();
            prop_assert!(key.verify("sha256:feed", &signature).is_ok());
            let hex_at = SIGNATURE_TAG.len() + 1;
            let mut digits: Vec<u8> = signature.trim_end().as_bytes()[hex_at..].to_vec();
            for (at, step) in &changes {
                let i = at.index(digits.len());
                let value = (char::from(digits[i]).to_digit(16).unwrap() as u8 + step) % 16;
                digits[i] = char::from_digit(u32::from(value), 16).unwrap() as u8;
            }
            let changed = format!("{SIGNATURE_TAG} {}", String::from_utf8(digits).unwrap());
            if changed.trim() != signature.trim() {
                prop_assert_eq!(key.verify("sha256:feed", &changed), Err(SignatureCheckError::BadSignature));
            }
            prop_assert!(key.verify("sha256:feed", &noise).is_err());
            prop_assert!(PublicKey::parse(&noise).is_err());
            prop_assert!(sign_digest(&noise, "sha256:feed").is_err());
        }
    }
}
