//! The registered claims of a token whose signature held (RFC 7519 §4.1): `exp` required and
//! checked, `nbf` checked when present, `iss` and `aud` required and checked when the route names
//! them, times with a leeway for clock skew. Checked here rather than by the JWT library, whose
//! claim checks come with its own (slower) signature check; the rules are the library's.

use serde_json::{Map, Value};

/// Why the claims are refused; the texts are what the 401's reason says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// The payload is not base64url JSON object.
    #[error("malformed token: the payload is not a JSON object")]
    NotJson,
    /// `exp` (plus the leeway) has passed.
    #[error("token has expired")]
    Expired,
    /// `nbf` (minus the leeway) is still to come.
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    /// A required claim is absent.
    #[error("no {0} claim")]
    Missing(&'static str),
    /// A claim has the wrong type.
    #[error("claim {0} is malformed")]
    Malformed(&'static str),
    /// `iss` is not the route's issuer.
    #[error("issuer is not {0:?}")]
    Issuer(String),
    /// `aud` does not name the route's audience.
    #[error("audience is not {0:?}")]
    Audience(String),
}

/// A route's claim rules.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required member of `aud`.
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway: u64,
}

/// Decodes a token's payload part (base64url without padding) into its claims object.
pub fn decode_payload(payload: &str) -> Result<Map<String, Value>, ClaimError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ClaimError::NotJson)?;
    serde_json::from_slice(&bytes).map_err(|_| ClaimError::NotJson)
}

impl ClaimRules {
    /// Checks `claims` at `now` (seconds since the epoch).
    pub fn check(&self, claims: &Map<String, Value>, now: u64) -> Result<(), ClaimError> {
        let exp = numeric_date(claims, "exp")?.ok_or(ClaimError::Missing("exp"))?;
        if exp.saturating_add(self.leeway) < now {
            return Err(ClaimError::Expired);
        }
        if let Some(nbf) = numeric_date(claims, "nbf")? {
            if nbf > now.saturating_add(self.leeway) {
                return Err(ClaimError::NotYetValid);
            }
        }
        if let Some(issuer) = &self.issuer {
            match claims.get("iss") {
                None => return Err(ClaimError::Missing("iss")),
                Some(Value::String(iss)) if iss == issuer => {}
                Some(Value::String(_)) => return Err(ClaimError::Issuer(issuer.clone())),
                Some(_) => return Err(ClaimError::Malformed("iss")),
            }
        }
        if let Some(audience) = &self.audience {
            let named = match claims.get("aud") {
                None => return Err(ClaimError::Missing("aud")),
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => {
                    if !auds.iter().all(Value::is_string) {
                        return Err(ClaimError::Malformed("aud"));
                    }
                    auds.iter().any(|a| a.as_str() == Some(audience))
                }
                Some(_) => return Err(ClaimError::Malformed("aud")),
            };
            if !named {
                return Err(ClaimError::Audience(audience.clone()));
            }
        }
        Ok(())
    }
}

/// A NumericDate claim (RFC 7519 §2: seconds, possibly fractional), rounded down.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, ClaimError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or(ClaimError::Malformed(name)),
        Some(_) => Err(ClaimError::Malformed(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn rules() -> ClaimRules {
        ClaimRules {
            issuer: Some("https://id.test".into()),
            audience: Some("edge".into()),
            leeway: 30,
        }
    }

    fn check(claims: Value) -> Result<(), ClaimError> {
        rules().check(claims.as_object().unwrap(), NOW)
    }

    fn valid() -> Value {
        json!({"exp": NOW + 60, "iss": "https://id.test", "aud": "edge", "sub": "will"})
    }

    #[test]
    fn a_valid_token_passes_with_aud_as_string_or_array() {
        assert_eq!(check(valid()), Ok(()));
        let mut listed = valid();
        listed["aud"] = json!(["bridge", "edge"]);
        assert_eq!(check(listed), Ok(()));
        let mut fractional = valid();
        fractional["exp"] = json!((NOW + 60) as f64 + 0.5);
        assert_eq!(check(fractional), Ok(()));
    }

    #[test]
    fn times_are_checked_with_the_leeway() {
        let mut claims = valid();
        claims["exp"] = json!(NOW - 29);
        assert_eq!(check(claims.clone()), Ok(()));
        claims["exp"] = json!(NOW - 31);
        assert_eq!(check(claims), Err(ClaimError::Expired));
        let mut early = valid();
        early["nbf"] = json!(NOW + 31);
        assert_eq!(check(early.clone()), Err(ClaimError::NotYetValid));
        early["nbf"] = json!(NOW + 29);
        assert_eq!(check(early), Ok(()));
    }

    #[test]
    fn missing_wrong_and_malformed_claims_are_named() {
        let mut claims = valid();
        claims.as_object_mut().unwrap().remove("exp");
        assert_eq!(check(claims), Err(ClaimError::Missing("exp")));
        let mut claims = valid();
        claims["exp"] = json!("tomorrow");
        assert_eq!(check(claims), Err(ClaimError::Malformed("exp")));
        let mut claims = valid();
        claims["iss"] = json!("https://romulus.test");
        assert_eq!(
            check(claims).unwrap_err().to_string(),
            "issuer is not \"https://id.test\""
        );
        let mut claims = valid();
        claims["aud"] = json!(["bridge"]);
        assert_eq!(check(claims), Err(ClaimError::Audience("edge".into())));
        let mut claims = valid();
        claims["aud"] = json!([1]);
        assert_eq!(check(claims), Err(ClaimError::Malformed("aud")));
        let mut claims = valid();
        claims.as_object_mut().unwrap().remove("iss");
        assert_eq!(check(claims), Err(ClaimError::Missing("iss")));
    }

    #[test]
    fn without_issuer_or_audience_rules_those_claims_are_not_required() {
        let open = ClaimRules {
            issuer: None,
            audience: None,
            leeway: 30,
        };
        let claims = json!({"exp": NOW + 1, "aud": 7});
        assert_eq!(open.check(claims.as_object().unwrap(), NOW), Ok(()));
    }

    #[test]
    fn payloads_that_are_not_json_objects_are_refused() {
        assert_eq!(decode_payload("not base64!"), Err(ClaimError::NotJson));
        assert_eq!(decode_payload("WzFd"), Err(ClaimError::NotJson)); // [1]
        assert!(decode_payload("eyJhIjoxfQ").is_ok()); // {"a":1}
    }
}
