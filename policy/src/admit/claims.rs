//! The claims of a verified JWT, handed to CEL (`jwt.claims`) and to the server.

use serde_json::{Map, Value};

/// The claims of a token whose signature, `exp`, `nbf`, `iss` and `aud` were checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JwtClaims(Map<String, Value>);

impl JwtClaims {
    /// Wraps a verified claims object.
    pub fn new(claims: Map<String, Value>) -> Self {
        JwtClaims(claims)
    }

    /// Every claim.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// One claim.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The `sub` claim, when it is a string.
    pub fn subject(&self) -> Option<&str> {
        self.0.get("sub").and_then(Value::as_str)
    }
}
