//! Bearer JWT authentication: signature (HS from `secret`, RS/ES/EdDSA from `keys`), `exp`,
//! `nbf`, `iss` and `aud` with a small leeway, the algorithm pinned, and `sub` naming the
//! consumer through its `jwt subject` credential.
//!
//! A token whose header names another algorithm than the route allows, or `none`, is refused
//! before any key is tried; an HMAC secret is never used to check an RS/ES token (the classic
//! algorithm-confusion attack) because keys only verify algorithms of their own family.

use std::borrow::Cow;

use http::HeaderValue;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, AlgorithmFamily, DecodingKey, Validation};
use meshwork_bundle::{SecretRef, SourceLocation};
use serde_json::{Map, Value};

use super::jwks::{load_keys, VerifyKey};
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
    /// One per allowed algorithm: the JWT library checks every listed algorithm against the
    /// key's family, so algorithms of different families cannot share a `Validation`.
    validations: Vec<Validation>,
    issuer: Option<String>,
    audience: Option<String>,
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
            keys.push(VerifyKey {
                kid: None,
                alg: pinned.filter(|a| a.family() == AlgorithmFamily::Hmac),
                family: AlgorithmFamily::Hmac,
                key: DecodingKey::from_secret(secret_of(secret)?.expose()),
            });
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
        let mut required = vec!["exp"];
        required.extend(settings.issuer.map(|_| "iss"));
        required.extend(settings.audience.map(|_| "aud"));
        let validations = allowed
            .iter()
            .map(|alg| {
                let mut validation = Validation::new(*alg);
                validation.leeway = LEEWAY_SECONDS;
                validation.validate_nbf = true;
                if let Some(issuer) = settings.issuer {
                    validation.set_issuer(&[issuer]);
                }
                match settings.audience {
                    Some(audience) => validation.set_audience(&[audience]),
                    None => validation.validate_aud = false,
                }
                validation.set_required_spec_claims(&required);
                validation
            })
            .collect();
        let realm = quoted(settings.realm);
        Ok(JwtAuth {
            keys,
            allowed,
            validations,
            issuer: settings.issuer.map(str::to_string),
            audience: settings.audience.map(str::to_string),
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
        let header = decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::Json(_) if token_alg_is_none(token) => Cow::Borrowed("alg none is refused"),
            _ => Cow::Owned(format!("malformed token: {e}")),
        })?;
        let Some(position) = self.allowed.iter().position(|alg| *alg == header.alg) else {
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
        };
        let validation = &self.validations[position];
        let candidates = self.keys.iter().filter(|k| {
            k.fits(header.alg)
                && match (&header.kid, &k.kid) {
                    (Some(wanted), Some(own)) => wanted == own,
                    _ => true,
                }
        });
        let mut tried = false;
        for candidate in candidates {
            tried = true;
            match decode::<Map<String, Value>>(token, &candidate.key, validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => continue,
                Err(e) => return Err(self.explain(e.kind())),
            }
        }
        Err(if tried {
            "signature does not verify".into()
        } else {
            match header.kid {
                Some(kid) => format!("no key with kid {kid:?}").into(),
                None => "no key for this algorithm".into(),
            }
        })
    }

    fn explain(&self, kind: &ErrorKind) -> Cow<'static, str> {
        match kind {
            ErrorKind::ExpiredSignature => "token has expired".into(),
            ErrorKind::ImmatureSignature => "token is not valid yet (nbf)".into(),
            ErrorKind::InvalidIssuer => format!(
                "issuer is not {:?}",
                self.issuer.as_deref().unwrap_or_default()
            )
            .into(),
            ErrorKind::InvalidAudience => format!(
                "audience is not {:?}",
                self.audience.as_deref().unwrap_or_default()
            )
            .into(),
            ErrorKind::MissingRequiredClaim(claim) => format!("no {claim} claim").into(),
            ErrorKind::InvalidClaimFormat(claim) => format!("claim {claim} is malformed").into(),
            other => format!("{other:?}").into(),
        }
    }
}

/// Whether the token's header says `"alg": "none"` (which the JWT library cannot even parse),
/// so the refusal can say so plainly.
fn token_alg_is_none(token: &str) -> bool {
    use base64::Engine;
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
