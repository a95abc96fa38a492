//! Detached ed25519 bundle signatures: the format both sides share (`meshc build --sign` writes
//! them, `meshd` checks them).
//!
//! A signature vouches for a [`SignedBundle`]: the bundle's digest, which covers every byte of
//! content (the serial included), and the length of the JSON text of the file it was made for.
//! Both are written beside the signature in clear, so a reader checks the signature **before it
//! reads the bundle**, and decompresses a `*.json.zst` no further than the signed length: a
//! hostile server or cache can make meshd decompress at most what its operator signed, never a
//! gigabyte of zstd bomb. A bundle whose digest is the signed one is the bundle that was signed,
//! in either encoding (a signature made for the pretty `*.json` also holds for the compressed
//! compact form of the same content, whose text is shorter). It lives beside the bundle in
//! `<bundle>.sig` so the bundle's bytes stay exactly as the compiler wrote them.
//!
//! Key and signature files are one line of text: `ed25519-private <hex seed>`,
//! `ed25519-public <hex key>` and `ed25519-signature <hex signature> <digest> <text length>`.
//! The signed message is `"meshwork bundle signature v2\n" + digest + "\n" + text length`.
//! Signatures of the first format (the hex signature alone, over the digest alone) are refused
//! with a message saying to sign again, unless a fleet moving from it accepts them for a while
//! ([`PublicKey::verify_first_format`]).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// The domain-separation prefix of the signed message.
const MESSAGE_PREFIX: &str = "meshwork bundle signature v2\n";
/// The prefix of the first format's message, followed by the digest alone.
const FIRST_FORMAT_PREFIX: &str = "meshwork bundle signature v1\n";
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
    #[error("not a {0} (expected one line `ed25519-… <hex>…`)")]
    Malformed(SignatureText),
    /// A signature of the first format, which signed the digest alone.
    #[error(
        "a signature of an earlier format (over the digest alone); sign the bundle again with \
         this version (meshd sign, or meshc build --sign)"
    )]
    Outdated,
    /// The signature does not verify with the key.
    #[error("the signature does not verify with the given key")]
    BadSignature,
}

/// What a signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBundle {
    /// The bundle's digest (`sha256:` and 64 hex digits).
    pub digest: String,
    /// The length of the JSON text of the file the signature was made for (decompressed): a
    /// compressed bundle that expands past it is not the one signed.
    pub text_length: u64,
}

impl SignedBundle {
    fn message(&self) -> Vec<u8> {
        format!("{MESSAGE_PREFIX}{}\n{}", self.digest, self.text_length).into_bytes()
    }
}

/// Whether `digest` is a sha256 digest as bundles record it.
fn is_digest(digest: &str) -> bool {
    digest
        .strip_prefix(crate::DIGEST_PREFIX)
        .is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
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

/// Signs `signed` with the private key text; returns the signature file's text.
pub fn sign_bundle_text(
    private_key: &str,
    signed: &SignedBundle,
) -> Result<String, SignatureCheckError> {
    let seed: [u8; 32] = parse_tagged(private_key, PRIVATE_TAG, SignatureText::PrivateKey)?;
    if !is_digest(&signed.digest) {
        return Err(SignatureCheckError::Malformed(SignatureText::Signature));
    }
    let signature = SigningKey::from_bytes(&seed).sign(&signed.message());
    Ok(format!(
        "{SIGNATURE_TAG} {} {} {}\n",
        hex::encode(signature.to_bytes()),
        signed.digest,
        signed.text_length
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

    /// Checks a signature text on its own, before the bundle is read; returns what it vouches
    /// for, which the bundle must then match.
    pub fn verify(&self, signature: &str) -> Result<SignedBundle, SignatureCheckError> {
        let malformed = || SignatureCheckError::Malformed(SignatureText::Signature);
        let fields = signature
            .trim()
            .strip_prefix(SIGNATURE_TAG)
            .filter(|rest| rest.starts_with([' ', '\t']))
            .ok_or_else(malformed)?;
        let fields: Vec<&str> = fields.split_ascii_whitespace().collect();
        let (hex_signature, digest, length) = match fields[..] {
            [hex_signature, digest, length] => (hex_signature, digest, length),
            [hex_signature] if hex_signature.len() == 128 => {
                return Err(SignatureCheckError::Outdated)
            }
            _ => return Err(malformed()),
        };
        let bytes: [u8; 64] = hex::decode(hex_signature)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(malformed)?;
        let text_length = match length.bytes().all(|b| b.is_ascii_digit()) {
            true => length.parse::<u64>().map_err(|_| malformed())?,
            false => return Err(malformed()),
        };
        if !is_digest(digest) {
            return Err(malformed());
        }
        let signed = SignedBundle {
            digest: digest.to_string(),
            text_length,
        };
        self.0
            .verify_strict(&signed.message(), &Signature::from_bytes(&bytes))
            .map_err(|_| SignatureCheckError::BadSignature)?;
        Ok(signed)
    }

    /// Checks a signature of the first format (the hex signature alone, over the digest alone)
    /// against a bundle's digest, already verified by reading the whole bundle: what meshd did
    /// before signatures bounded the read, kept for a fleet's move to the current format
    /// (`--accept-v1-signatures`).
    pub fn verify_first_format(
        &self,
        digest: &str,
        signature: &str,
    ) -> Result<(), SignatureCheckError> {
        let bytes: [u8; 64] = parse_tagged(signature, SIGNATURE_TAG, SignatureText::Signature)?;
        let message = format!("{FIRST_FORMAT_PREFIX}{digest}");
        self.0
            .verify_strict(message.as_bytes(), &Signature::from_bytes(&bytes))
            .map_err(|_| SignatureCheckError::BadSignature)
    }
}

/// Signs `digest` in the first format (tests of the move from it only).
#[doc(hidden)]
pub fn sign_first_format(private_key: &str, digest: &str) -> Result<String, SignatureCheckError> {
    let seed: [u8; 32] = parse_tagged(private_key, PRIVATE_TAG, SignatureText::PrivateKey)?;
    let message = format!("{FIRST_FORMAT_PREFIX}{digest}");
    let signature = SigningKey::from_bytes(&seed).sign(message.as_bytes());
    Ok(format!(
        "{SIGNATURE_TAG} {}\n",
        hex::encode(signature.to_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(digit: char, text_length: u64) -> SignedBundle {
        SignedBundle {
            digest: format!("sha256:{}", digit.to_string().repeat(64)),
            text_length,
        }
    }

    #[test]
    fn a_signature_verifies_on_its_own_and_says_what_it_vouches_for() {
        let (private, public) = key_pair_texts([7; 32]);
        let signature = sign_bundle_text(&private, &signed('a', 1234)).unwrap();
        let key = PublicKey::parse(&public).unwrap();
        assert_eq!(key.verify(&signature), Ok(signed('a', 1234)));
    }

    #[test]
    fn a_signature_whose_digest_or_length_was_changed_does_not_verify() {
        let (private, public) = key_pair_texts([7; 32]);
        let key = PublicKey::parse(&public).unwrap();
        let signature = sign_bundle_text(&private, &signed('a', 1234)).unwrap();
        let other_digest = signature.replace(&signed('a', 0).digest, &signed('b', 0).digest);
        let longer = signature.replace(" 1234", " 12345");
        for changed in [other_digest, longer] {
            assert_ne!(changed, signature);
            assert_eq!(key.verify(&changed), Err(SignatureCheckError::BadSignature));
        }
    }

    #[test]
    fn another_key_does_not_verify() {
        let (private, _) = key_pair_texts([1; 32]);
        let (_, other) = key_pair_texts([2; 32]);
        let signature = sign_bundle_text(&private, &signed('a', 1)).unwrap();
        assert_eq!(
            PublicKey::parse(&other).unwrap().verify(&signature),
            Err(SignatureCheckError::BadSignature)
        );
    }

    #[test]
    fn a_signature_of_the_first_format_is_outdated() {
        let (_, public) = key_pair_texts([3; 32]);
        let key = PublicKey::parse(&public).unwrap();
        let first_format = format!("{SIGNATURE_TAG} {}\n", "ab".repeat(64));
        assert_eq!(
            key.verify(&first_format),
            Err(SignatureCheckError::Outdated)
        );
        assert!(SignatureCheckError::Outdated
            .to_string()
            .contains("sign the bundle again"));
    }

    #[test]
    fn a_first_format_signature_verifies_only_against_its_digest() {
        let (private, public) = key_pair_texts([5; 32]);
        let key = PublicKey::parse(&public).unwrap();
        let digest = signed('c', 0).digest;
        let old = sign_first_format(&private, &digest).unwrap();
        assert_eq!(key.verify(&old), Err(SignatureCheckError::Outdated));
        key.verify_first_format(&digest, &old).unwrap();
        assert_eq!(
            key.verify_first_format(&signed('d', 0).digest, &old),
            Err(SignatureCheckError::BadSignature)
        );
        // A current signature is not a first-format one.
        let current = sign_bundle_text(&private, &signed('c', 9)).unwrap();
        assert!(key.verify_first_format(&digest, &current).is_err());
    }

    #[test]
    fn texts_of_the_wrong_kind_are_malformed() {
        let (private, public) = key_pair_texts([3; 32]);
        assert_eq!(
            PublicKey::parse(&private),
            Err(SignatureCheckError::Malformed(SignatureText::PublicKey))
        );
        assert!(sign_bundle_text(&public, &signed('a', 1)).is_err());
        let not_a_digest = SignedBundle {
            digest: "sha256:aa".to_string(),
            text_length: 1,
        };
        assert!(sign_bundle_text(&private, &not_a_digest).is_err());
        let key = PublicKey::parse(&public).unwrap();
        let good = sign_bundle_text(&private, &signed('a', 9)).unwrap();
        let digest = signed('a', 9).digest;
        let hex_signature = good.split(' ').nth(1).unwrap();
        let malformed = SignatureCheckError::Malformed(SignatureText::Signature);
        for text in [
            "ed25519-signature zz".to_string(),
            "\u{0}\u{ff}garbage".to_string(),
            format!("{SIGNATURE_TAG}{hex_signature} {digest} 9"),
            format!("{SIGNATURE_TAG} {hex_signature} {digest} -9"),
            format!("{SIGNATURE_TAG} {hex_signature} {digest} +9"),
            format!("{SIGNATURE_TAG} {hex_signature} {digest} 99999999999999999999999"),
            format!("{SIGNATURE_TAG} {hex_signature} sha256:AA 9"),
            format!("{SIGNATURE_TAG} {hex_signature} {digest}"),
            format!("{SIGNATURE_TAG} {hex_signature} {digest} 9 9"),
            format!("{SIGNATURE_TAG} {} {digest} 9", &hex_signature[2..]),
        ] {
            assert_eq!(key.verify(&text), Err(malformed.clone()), "{text}");
        }
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
            let made = signed('f', 77);
            let signature = sign_bundle_text(&private, &made).unwrap();
            prop_assert_eq!(key.verify(&signature), Ok(made.clone()));
            let hex_at = SIGNATURE_TAG.len() + 1;
            let mut digits: Vec<u8> = signature.as_bytes()[hex_at..hex_at + 128].to_vec();
            for (at, step) in &changes {
                let i = at.index(digits.len());
                let value = (char::from(digits[i]).to_digit(16).unwrap() as u8 + step) % 16;
                digits[i] = char::from_digit(u32::from(value), 16).unwrap() as u8;
            }
            let changed = format!(
                "{SIGNATURE_TAG} {} {} 77",
                String::from_utf8(digits).unwrap(),
                made.digest
            );
            if changed.trim() != signature.trim() {
                prop_assert_eq!(key.verify(&changed), Err(SignatureCheckError::BadSignature));
            }
            prop_assert!(key.verify(&noise).is_err());
            prop_assert!(PublicKey::parse(&noise).is_err());
            prop_assert!(sign_bundle_text(&noise, &made).is_err());
        }
    }
}
