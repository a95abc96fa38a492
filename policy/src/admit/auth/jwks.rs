//! JWT verification keys: a JWKS document (RFC 7517) or a PEM public key, loaded at build, each
//! also prepared for ring ([`SignatureKey`]), which checks the signatures.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use super::jwt_signature::SignatureKey;

/// One key a token may be verified with.
pub struct VerifyKey {
    /// The key id (`kid`), if the JWKS gives one.
    pub kid: Option<String>,
    /// The algorithm the key is restricted to, if the JWKS says.
    pub alg: Option<Algorithm>,
    /// The key's family (RSA, EC, Ed, HMAC).
    pub family: AlgorithmFamily,
    /// The key, in ring's terms.
    pub signature: SignatureKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

impl VerifyKey {
    /// An HMAC secret (`auth jwt secret …`), used for HS256/384/512 or only `alg` when pinned.
    pub fn hmac(secret: &[u8], alg: Option<Algorithm>) -> Self {
        VerifyKey {
            kid: None,
            alg: alg.filter(|a| a.family() == AlgorithmFamily::Hmac),
            family: AlgorithmFamily::Hmac,
            signature: SignatureKey::hmac(secret),
        }
    }

    /// Whether a token signed with `alg` may be checked with this key.
    pub fn fits(&self, alg: Algorithm) -> bool {
        alg.family() == self.family && self.alg.is_none_or(|own| own == alg)
    }

    /// The algorithm a token is assumed to use with this key when the route pins none.
    pub fn default_alg(&self) -> Algorithm {
        self.alg.unwrap_or(match self.family {
            AlgorithmFamily::Hmac => Algorithm::HS256,
            AlgorithmFamily::Rsa => Algorithm::RS256,
            AlgorithmFamily::Ec => Algorithm::ES256,
            AlgorithmFamily::Ed => Algorithm::EdDSA,
        })
    }
}

/// The verification keys in `bytes`: a JWKS document, or one PEM public key used with `pinned`
/// (required for PEM, which does not say its algorithm). Encryption keys are skipped.
pub fn load_keys(bytes: &[u8], pinned: Option<Algorithm>) -> Result<Vec<VerifyKey>, String> {
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        return load_pem(bytes, pinned).map(|key| vec![key]);
    }
    let set: JwkSet =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
            continue;
        }
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                AlgorithmFamily::Ec
            }
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P384 => {
                AlgorithmFamily::Ec
            }
            AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
            // Shared secrets belong in `secret`, not in a published key set; curves the
            // crypto backend lacks cannot verify anything.
            _ => continue,
        };
        let alg = match jwk.common.key_algorithm {
            Some(named) => Some(
                named
                    .to_string()
                    .parse::<Algorithm>()
                    .map_err(|_| format!("key algorithm {named} is not supported"))?,
            ),
            None => None,
        };
        let kid = jwk.common.key_id.as_deref().unwrap_or("(no kid)");
        let key =
            DecodingKey::from_jwk(jwk).map_err(|e| format!("key {kid} is not usable: {e}"))?;
        let signature =
            SignatureKey::public(&key).map_err(|e| format!("key {kid} is not usable: {e}"))?;
        keys.push(VerifyKey {
            kid: jwk.common.key_id.clone(),
            alg,
            family,
            signature,
        });
    }
    Ok(keys)
}

fn load_pem(bytes: &[u8], pinned: Option<Algorithm>) -> Result<VerifyKey, String> {
    let alg = pinned.ok_or("a PEM key needs the route to pin `alg`")?;
    let key = match alg.family() {
        AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(bytes),
        AlgorithmFamily::Ec => DecodingKey::from_ec_pem(bytes),
        AlgorithmFamily::Ed => DecodingKey::from_ed_pem(bytes),
        AlgorithmFamily::Hmac => return Err("an HMAC key belongs in `secret`".to_string()),
    }
    .map_err(|e| format!("not a PEM public key for {alg:?}: {e}"))?;
    let signature = SignatureKey::public(&key)?;
    Ok(VerifyKey {
        kid: None,
        alg: Some(alg),
        family: alg.family(),
        signature,
    })
}
