//! The secrets a test run loads and the credentials `as CONSUMER` sends.
//!
//! Tests never see a real secret: every `env(…)`/`file(…)` the program names gets a value made
//! from the reference itself (so two consumers sharing a reference share a value, as they would
//! at run time), and every JWT key set gets a generated one holding a P-256, a P-384 and an
//! Ed25519 key. `as picard` then sends picard's key, basic password, or a token signed with the
//! matching test key, in the place the route reads it; the route's own code checks it.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use meshwork_bundle::{
    AuthMethod, Credential as BundleCredential, Gateway, KeyLocation, SecretRef,
};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{json, Map, Value};

/// The value a test run gives the secret `reference`.
pub fn synthetic_secret(reference: &SecretRef) -> Vec<u8> {
    match reference {
        SecretRef::Env(name) => format!("meshc-test-env-{name}").into_bytes(),
        SecretRef::File(path) => format!("meshc-test-file-{path}").into_bytes(),
    }
}

/// The signing keys of one test run, and the key set published for them.
pub struct TestKeys {
    rng: SystemRandom,
    p256: EcdsaKeyPair,
    p384: EcdsaKeyPair,
    ed25519: Ed25519KeyPair,
}

impl std::fmt::Debug for TestKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestKeys")
    }
}

const KID_ES256: &str = "meshc-test-es256";
const KID_ES384: &str = "meshc-test-es384";
const KID_EDDSA: &str = "meshc-test-eddsa";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl TestKeys {
    /// Fresh keys (a new set every run: nothing signed in a test is worth keeping).
    pub fn generate() -> Result<Self, String> {
        let rng = SystemRandom::new();
        let ecdsa = |alg: &'static signature::EcdsaSigningAlgorithm| {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(|e| e.to_string())?;
            EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).map_err(|e| e.to_string())
        };
        let p256 = ecdsa(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)?;
        let p384 = ecdsa(&signature::ECDSA_P384_SHA384_FIXED_SIGNING)?;
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| e.to_string())?;
        let ed25519 = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| e.to_string())?;
        Ok(TestKeys {
            rng,
            p256,
            p384,
            ed25519,
        })
    }

    /// The JWKS document every JWT key set of the program is replaced with.
    pub fn jwks(&self) -> String {
        let ec = |key: &EcdsaKeyPair, crv: &str, alg: &str, kid: &str| {
            // An uncompressed point: 0x04, then x and y of equal length.
            let point = key.public_key().as_ref();
            let half = (point.len() - 1) / 2;
            json!({
                "kty": "EC", "crv": crv, "alg": alg, "kid": kid, "use": "sig",
                "x": b64(&point[1..1 + half]), "y": b64(&point[1 + half..]),
            })
        };
        json!({
            "keys": [
                ec(&self.p256, "P-256", "ES256", KID_ES256),
                ec(&self.p384, "P-384", "ES384", KID_ES384),
                {
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": KID_EDDSA, "use": "sig",
                    "x": b64(self.ed25519.public_key().as_ref()),
                },
            ]
        })
        .to_string()
    }

    /// Signs `header.payload` with `alg`, HMAC algorithms with `secret`.
    fn sign(
        &self,
        alg: &str,
        signing_input: &[u8],
        secret: Option<&[u8]>,
    ) -> Result<Vec<u8>, String> {
        let hmac = |algorithm| {
            let secret =
                secret.ok_or_else(|| format!("the route has no `secret` to sign {alg} with"))?;
            let key = ring::hmac::Key::new(algorithm, secret);
            Ok(ring::hmac::sign(&key, signing_input).as_ref().to_vec())
        };
        let ecdsa = |key: &EcdsaKeyPair| {
            key.sign(&self.rng, signing_input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| e.to_string())
        };
        match alg {
            "HS256" => hmac(ring::hmac::HMAC_SHA256),
            "HS384" => hmac(ring::hmac::HMAC_SHA384),
            "HS512" => hmac(ring::hmac::HMAC_SHA512),
            "ES256" => ecdsa(&self.p256),
            "ES384" => ecdsa(&self.p384),
            "EdDSA" => Ok(self.ed25519.sign(signing_input).as_ref().to_vec()),
            other => Err(format!(
                "meshc test signs HS256/384/512, ES256, ES384 and EdDSA tokens, not {other}; send a token with `header \"authorization\" \"Bearer …\"` instead"
            )),
        }
    }
}

/// Where a credential goes on the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialPlace {
    /// A request header.
    Header(String, String),
    /// A query parameter (`name`, `value`).
    Query(String, String),
}

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What `as consumer` sends on a route authenticating with `method` in `gateway`, at `now`,
/// with `claims` merged into a JWT's (a `null` claim is left out).
pub fn credential_for(
    keys: &TestKeys,
    gateway: &Gateway,
    method: &AuthMethod,
    consumer: &str,
    claims: &Map<String, Value>,
    now: SystemTime,
) -> Result<CredentialPlace, String> {
    let entry = gateway
        .consumers
        .iter()
        .find(|c| c.name == consumer)
        .ok_or_else(|| format!("gateway `{}` has no consumer `{consumer}`", gateway.name))?;
    let lacks = |kind: &str| {
        format!("consumer `{consumer}` has no {kind} credential, and the route asks for one")
    };
    match method {
        AuthMethod::Key { location, name } => {
            let secret = entry
                .credentials
                .iter()
                .find_map(|c| match c {
                    BundleCredential::Key { secret } => Some(secret),
                    _ => None,
                })
                .ok_or_else(|| lacks("API key"))?;
            let value = String::from_utf8_lossy(&synthetic_secret(secret)).into_owned();
            Ok(match location {
                KeyLocation::Header => CredentialPlace::Header(name.clone(), value),
                KeyLocation::Query => CredentialPlace::Query(name.clone(), value),
            })
        }
        AuthMethod::Basic { .. } => {
            let (user, password) = entry
                .credentials
                .iter()
                .find_map(|c| match c {
                    BundleCredential::Basic { user, password } => Some((user, password)),
                    _ => None,
                })
                .ok_or_else(|| lacks("basic"))?;
            let mut pair = format!("{user}:").into_bytes();
            pair.extend(synthetic_secret(password));
            Ok(CredentialPlace::Header(
                "authorization".to_string(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ),
            ))
        }
        AuthMethod::Jwt {
            issuer,
            audience,
            alg,
            keys: key_set,
            secret,
        } => {
            let subject = entry
                .credentials
                .iter()
                .find_map(|c| match c {
                    BundleCredential::Jwt { subject } => Some(subject),
                    _ => None,
                })
                .ok_or_else(|| lacks("JWT"))?;
            let alg = alg.clone().unwrap_or_else(|| {
                if secret.is_some() && key_set.is_none() {
                    "HS256".to_string()
                } else {
                    "ES256".to_string()
                }
            });
            let mut payload = Map::new();
            payload.insert("sub".into(), json!(subject));
            if let Some(issuer) = issuer {
                payload.insert("iss".into(), json!(issuer));
            }
            if let Some(audience) = audience {
                payload.insert("aud".into(), json!(audience));
            }
            payload.insert("iat".into(), json!(seconds(now)));
            payload.insert("exp".into(), json!(seconds(now) + 3600));
            for (name, value) in claims {
                if value.is_null() {
                    payload.remove(name);
                } else {
                    payload.insert(name.clone(), value.clone());
                }
            }
            let secret_bytes = secret.as_ref().map(synthetic_secret);
            let mut header = Map::new();
            header.insert("alg".into(), json!(alg));
            header.insert("typ".into(), json!("JWT"));
            let body = b64(Value::Object(payload).to_string().as_bytes());
            let kid = match alg.as_str() {
                "ES256" => Some(KID_ES256),
                "ES384" => Some(KID_ES384),
                "EdDSA" => Some(KID_EDDSA),
                _ => None,
            };
            if let Some(kid) = kid {
                header.insert("kid".into(), json!(kid));
            }
            let signing_input = format!(
                "{}.{body}",
                b64(Value::Object(header).to_string().as_bytes())
            );
            let signature = keys.sign(&alg, signing_input.as_bytes(), secret_bytes.as_deref())?;
            Ok(CredentialPlace::Header(
                "authorization".to_string(),
                format!("Bearer {signing_input}.{}", b64(&signature)),
            ))
        }
    }
}
