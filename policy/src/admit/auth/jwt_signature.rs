//! JWT signatures (RFC 7518 §3) checked with ring, the crypto library rustls already brings:
//! its RSA and ECDSA verification are several times faster than the pure-Rust backend of the
//! JWT library, whose own signature check is therefore never used (see [`super::jwt`]). Keys are
//! turned into what ring takes once, at load, where a key ring cannot use (an RSA modulus under
//! 2048 bits, a compressed EC point) is refused with a reason instead of failing every token.

use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};
use ring::hmac;
use ring::signature::{self, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey};

/// RSA moduli ring verifies (RFC 7518 §3.3 requires at least 2048 bits).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// A verification key in ring's terms.
pub enum SignatureKey {
    /// An HMAC secret, keyed once for each hash (boxed: three keys are large).
    Hmac(Box<HmacKeys>),
    /// An RSA public key (RS* and PS*).
    Rsa(RsaPublicKeyComponents<Vec<u8>>),
    /// An uncompressed P-256 point (ES256).
    P256(Vec<u8>),
    /// An uncompressed P-384 point (ES384).
    P384(Vec<u8>),
    /// An Ed25519 public key (EdDSA).
    Ed25519(Vec<u8>),
}

/// One HMAC secret keyed for HS256, HS384 and HS512.
pub struct HmacKeys {
    sha256: hmac::Key,
    sha384: hmac::Key,
    sha512: hmac::Key,
}

impl std::fmt::Debug for SignatureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureKey::Hmac(_) => "SignatureKey::Hmac",
            SignatureKey::Rsa(_) => "SignatureKey::Rsa",
            SignatureKey::P256(_) => "SignatureKey::P256",
            SignatureKey::P384(_) => "SignatureKey::P384",
            SignatureKey::Ed25519(_) => "SignatureKey::Ed25519",
        })
    }
}

impl SignatureKey {
    /// An HMAC key for HS256, HS384 and HS512.
    pub fn hmac(secret: &[u8]) -> Self {
        SignatureKey::Hmac(Box::new(HmacKeys {
            sha256: hmac::Key::new(hmac::HMAC_SHA256, secret),
            sha384: hmac::Key::new(hmac::HMAC_SHA384, secret),
            sha512: hmac::Key::new(hmac::HMAC_SHA512, secret),
        }))
    }

    /// The public key behind `key` (loaded from a JWK or a PEM file), or why ring cannot use it.
    pub fn public(key: &DecodingKey) -> Result<Self, String> {
        use jsonwebtoken::AlgorithmFamily as Family;
        match (key.family(), key.kind()) {
            (Family::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => rsa(n, e),
            (Family::Rsa, DecodingKeyKind::SecretOrDer(der)) => {
                let (n, e) = rsa_public_key_der(der)
                    .ok_or("the RSA public key is not a DER RSAPublicKey")?;
                rsa(n, e)
            }
            (Family::Ec, DecodingKeyKind::SecretOrDer(point)) => match (point.first(), point.len())
            {
                (Some(0x04), 65) => Ok(SignatureKey::P256(point.clone())),
                (Some(0x04), 97) => Ok(SignatureKey::P384(point.clone())),
                (Some(0x02 | 0x03), _) => Err("compressed EC points are not supported".into()),
                _ => Err("the EC key is not a P-256 or P-384 point".into()),
            },
            (Family::Ed, DecodingKeyKind::SecretOrDer(bytes)) if bytes.len() == 32 => {
                Ok(SignatureKey::Ed25519(bytes.clone()))
            }
            (Family::Ed, _) => Err("the Ed25519 key is not 32 bytes".into()),
            (Family::Hmac, _) => Err("an HMAC key is a secret, not a public key".into()),
            _ => Err("the key does not match its algorithm family".into()),
        }
    }

    /// Whether `signature` (decoded from base64url) signs `message` (`header.payload`) with `alg`.
    /// An algorithm of another family than the key's never verifies.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        match (self, alg) {
            (SignatureKey::Hmac(keys), Algorithm::HS256) => {
                hmac_ok(&keys.sha256, message, signature)
            }
            (SignatureKey::Hmac(keys), Algorithm::HS384) => {
                hmac_ok(&keys.sha384, message, signature)
            }
            (SignatureKey::Hmac(keys), Algorithm::HS512) => {
                hmac_ok(&keys.sha512, message, signature)
            }
            (SignatureKey::Rsa(key), alg) => rsa_parameters(alg)
                .is_some_and(|params| key.verify(params, message, signature).is_ok()),
            (SignatureKey::P256(point), Algorithm::ES256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (SignatureKey::P384(point), Algorithm::ES384) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (SignatureKey::Ed25519(key), Algorithm::EdDSA) => {
                UnparsedPublicKey::new(&signature::ED25519, key)
                    .verify(message, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// ring recomputes the tag and compares it in constant time.
fn hmac_ok(key: &hmac::Key, message: &[u8], signature: &[u8]) -> bool {
    hmac::verify(key, message, signature).is_ok()
}

fn rsa_parameters(alg: Algorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// An RSA key from its big-endian modulus and exponent, refused when ring would not verify with
/// it (so a weak key is an error at load, not a 401 on every request).
fn rsa(n: &[u8], e: &[u8]) -> Result<SignatureKey, String> {
    let n = strip_leading_zeros(n);
    let e = strip_leading_zeros(e);
    let bits = n.first().map_or(0, |top| {
        (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
    });
    if !RSA_BITS.contains(&bits) {
        return Err(format!(
            "the RSA modulus has {bits} bits; 2048 to 8192 are accepted"
        ));
    }
    if e.is_empty() || e.len() > 4 {
        return Err("the RSA public exponent is not usable".into());
    }
    Ok(SignatureKey::Rsa(RsaPublicKeyComponents {
        n: n.to_vec(),
        e: e.to_vec(),
    }))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[zeros..]
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (RFC 8017 A.1.1), the
/// DER a PEM public key holds, as `(n, e)`.
fn rsa_public_key_der(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (sequence, rest) = der_element(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (n, rest) = der_element(sequence, 0x02)?;
    let (e, rest) = der_element(rest, 0x02)?;
    rest.is_empty().then_some((n, e))
}

/// One DER element with tag `tag`: its content and what follows it.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => (usize::from(*rest.first()?), &rest[1..]),
        0x82 => {
            let bytes = rest.get(..2)?;
            (
                usize::from(bytes[0]) << 8 | usize::from(bytes[1]),
                &rest[2..],
            )
        }
        _ => return None,
    };
    (rest.len() >= length).then(|| rest.split_at(length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_rsa_public_keys_parse_into_modulus_and_exponent() {
        // SEQUENCE { INTEGER 0x00c5, INTEGER 0x010001 }
        let der = [
            0x30, 0x09, 0x02, 0x02, 0x00, 0xc5, 0x02, 0x03, 0x01, 0x00, 0x01,
        ];
        assert_eq!(
            rsa_public_key_der(&der),
            Some((&[0x00, 0xc5][..], &[0x01, 0x00, 0x01][..]))
        );
        assert_eq!(rsa_public_key_der(&der[..10]), None);
        let mut trailing = der.to_vec();
        trailing.push(0);
        assert_eq!(rsa_public_key_der(&trailing), None);
    }

    #[test]
    fn small_rsa_moduli_are_refused_at_load() {
        let n1024 = [0xff; 128];
        let error = rsa(&n1024, &[1, 0, 1]).unwrap_err();
        assert!(error.contains("1024 bits"), "{error}");
        let mut n2048 = vec![0u8; 257];
        n2048[1] = 0x80;
        assert!(rsa(&n2048, &[1, 0, 1]).is_ok());
    }

    #[test]
    fn hmac_keys_verify_only_their_own_hash() {
        let key = SignatureKey::hmac(b"secret");
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"secret"), b"m");
        assert!(key.verify(Algorithm::HS256, b"m", tag.as_ref()));
        assert!(!key.verify(Algorithm::HS384, b"m", tag.as_ref()));
        assert!(!key.verify(Algorithm::HS256, b"n", tag.as_ref()));
        assert!(!key.verify(Algorithm::RS256, b"m", tag.as_ref()));
    }
}
