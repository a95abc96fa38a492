//! Bearer JWT authentication: signature (HS from `secret`, RS/PS/ES/EdDSA from `keys`, checked
//! with ring: [`super::jwt_signature`]), `exp`, `nbf`, `iss` and `aud` with a small leeway (checked
//! by the JWT library), the algorithm pinned, and `sub` naming the consumer through its
//! `jwt subject` credential.
//!
//! A token whose header names another algorithm than the route allows, or `none`, is refused
//! before any key is tried; an HMAC secret is never used to check an RS/ES token (the classic
//! algorithm-confusion attack) because keys only verify algorithms of their own family. A token
//! with a `kid` is checked with the keys of that `kid` (and keys without one); a token without a
//! `kid` only when exactly one key could verify it (by family and pinned algorithm), so that it
//! is never tried against a whole key set.

use std::borrow::Cow;

use base64::Engine;
use http::HeaderValue;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode_header, Algorithm};
use meshwork_bundle::{SecretRef, SourceLocation};
use serde_json::{Map, Value};
use smallvec::SmallVec;

use super::jwks::{load_keys, VerifyKey};
use super::jwt_claims::{decode_payload, ClaimRules};
use super::{authorization, challenge, quoted, AuthFailure, Authenticated};
use crate::admit::claims::JwtClaims;
use crate::admit::consumers::ConsumerDirectory;
use crate::admit::error::{at, AdmitBuildError};
use crate::admit::facts::RequestFacts;
use crate::secrets::{describe_secret, SecretStore};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 30;

/// The bundle's JWT settings, borrowed.
pub struct JwtSettings<'a> {
    /// Required `iss`.
    pub issuer: Option<&'a str>,
    /// Required `aud`.
    pub audience: Option<&'a str>,
    /// Pinned algorithm name.
    pub alg: Option<&'a str>,
    /// A JWKS document or PEM public key.
    pub keys: Option<&'a SecretRef>,
    /// An HMAC secret.
    pub secret: Option<&'a SecretRef>,
    /// The realm of the `WWW-Authenticate` challenge.
    pub realm: &'a str,
}

/// A route's JWT verifier.
#[derive(Debug)]
pub struct JwtAuth {
    keys: Vec<VerifyKey>,
    allowed: Vec<Algorithm>,
    claims: ClaimRules,
    challenge: HeaderValue,
    invalid_challenge: HeaderValue,
}

impl JwtAuth {
    /// Loads the keys and renders the challenges. Fails when the pinned algorithm is unknown or
    /// no key can verify any allowed algorithm.
    pub fn build(
        settings: JwtSettings<'_>,
        route: &str,
        source: &SourceLocation,
        secrets: &SecretStore,
    ) -> Result<Self, AdmitBuildError> {
        let invalid = |message: String| AdmitBuildError::invalid(route, source, message);
        let pinned = match settings.alg {
            Some(name) => Some(
                name.parse::<Algorithm>()
                    .map_err(|_| invalid(format!("JWT alg {name:?} is not supported")))?,
            ),
            None => None,
        };
        let secret_of = |reference: &SecretRef| {
            secrets
                .require(reference)
                .map_err(|error| AdmitBuildError::Secret {
                    at: at(source),
                    reference: describe_secret(reference),
                    source: error,
                })
        };
        let mut keys = Vec::new();
        if let Some(secret) = settings.secret {
            keys.push(VerifyKey::hmac(secret_of(secret)?.expose(), pinned));
        }
        if let Some(reference) = settings.keys {
            let loaded = load_keys(secret_of(reference)?.expose(), pinned)
                .map_err(|e| invalid(format!("{}: {e}", describe_secret(reference))))?;
            keys.extend(loaded);
        }
        let allowed: Vec<Algorithm> = match pinned {
            Some(alg) => vec![alg],
            None => {
                let mut algs: Vec<Algorithm> = Vec::new();
                for alg in keys.iter().map(VerifyKey::default_alg) {
                    if !algs.contains(&alg) {
                        algs.push(alg);
                    }
                }
                algs
            }
        };
        if !allowed.iter().any(|alg| keys.iter().any(|k| k.fits(*alg))) {
            let algs: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
            return Err(invalid(format!(
                "no JWT key can verify {} (give `secret` for HS*, `keys` for RS*/ES*)",
                if algs.is_empty() {
                    "any algorithm".to_string()
                } else {
                    algs.join(", ")
                }
            )));
        }
        let realm = quoted(settings.realm);
        Ok(JwtAuth {
            keys,
            allowed,
            claims: ClaimRules {
                issuer: settings.issuer.map(str::to_string),
                audience: settings.audience.map(str::to_string),
                leeway: LEEWAY_SECONDS,
            },
            challenge: challenge(format!("Bearer realm={realm}"), route, source)?,
            invalid_challenge: challenge(
                format!("Bearer realm={realm}, error=\"invalid_token\""),
                route,
                source,
            )?,
        })
    }

    /// Verifies the bearer token and finds the consumer its `sub` names.
    pub fn authenticate<'d>(
        &self,
        facts: &RequestFacts<'_>,
        directory: &'d ConsumerDirectory,
    ) -> Result<Authenticated<'d>, AuthFailure> {
        let token = authorization(facts, "Bearer")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthFailure::new("missing bearer token", Some(&self.challenge)))?;
        let claims = self.verify(token).map_err(|reason| {
            AuthFailure::new(
                format!("invalid token: {reason}"),
                Some(&self.invalid_challenge),
            )
        })?;
        let claims = JwtClaims::new(claims);
        let subject = claims.subject().ok_or_else(|| {
            AuthFailure::new(
                "invalid token: no sub claim names a consumer",
                Some(&self.invalid_challenge),
            )
        })?;
        let consumer = directory.by_jwt_subject(subject).ok_or_else(|| {
            AuthFailure::new(
                format!(
                    "token subject {subject:?} is not a consumer of gateway {}",
                    directory.gateway()
                ),
                Some(&self.invalid_challenge),
            )
        })?;
        Ok(Authenticated {
            consumer,
            claims: Some(claims),
        })
    }

    /// The verified claims, or why the token is refused.
    fn verify(&self, token: &str) -> Result<Map<String, Value>, Cow<'static, str>> {
        let mut parts = token.split('.');
        let (Some(_), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("malformed token: not three base64url parts".into());
        };
        let header = decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::Json(_) if token_alg_is_none(token) => Cow::Borrowed("alg none is refused"),
            _ => Cow::Owned(format!("malformed token: {e}")),
        })?;
        if !self.allowed.contains(&header.alg) {
            return Err(format!(
                "alg {:?} is not allowed here (expected {})",
                header.alg,
                self.allowed
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
            .into());
        }
        let candidates: SmallVec<[&VerifyKey; 4]> = self
            .keys
            .iter()
            .filter(|k| {
                k.fits(header.alg)
                    && match (&header.kid, &k.kid) {
                        (Some(wanted), Some(own)) => wanted == own,
                        _ => true,
                    }
            })
            .collect();
        match (&header.kid, candidates.len()) {
            (Some(kid), 0) => return Err(format!("no key with kid {kid:?}").into()),
            (None, 0) => return Err("no key for this algorithm".into()),
            (None, many) if many > 1 => {
                return Err(format!(
                    "the token has no kid and {many} keys could verify it; a kid must say which"
                )
                .into())
            }
            _ => {}
        }
        // The signed message is `header.payload`: everything before the last dot.
        let message = &token[..token.len() - signature.len() - 1];
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Cow::Borrowed("malformed token: the signature is not base64url"))?;
        if !candidates.iter().any(|k| {
            k.signature
                .verify(header.alg, message.as_bytes(), &signature)
        }) {
            return Err("signature does not verify".into());
        }
        let claims = decode_payload(payload).map_err(|e| Cow::Owned(e.to_string()))?;
        self.claims
            .check(&claims, jsonwebtoken::get_current_timestamp())
            .map_err(|e| Cow::Owned(e.to_string()))?;
        Ok(claims)
    }
}

/// Whether the token's header says `"alg": "none"` (which the JWT library cannot even parse),
/// so the refusal can say so plainly.
fn token_alg_is_none(token: &str) -> bool {
    let Some(header) = token.split('.').next() else {
        return false;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header) else {
        return false;
    };
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.get("alg")
                .and_then(Value::as_str)
                .map(|a| a.eq_ignore_ascii_case("none"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod edited_tokens;
