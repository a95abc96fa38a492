//! JWT settings that verify nothing or can be forged (E0601).
//!
//! *What*: `alg none`; an HMAC algorithm (HS*) without a `secret`; an RSA, PSS, ECDSA or EdDSA
//! algorithm without `keys`; an unknown algorithm; no `alg` with both `keys` and `secret`
//! (algorithm confusion); neither keys nor secret.
//! *Why*: `alg none` accepts unsigned tokens; mixing key types without pinning the algorithm is
//! the classic RS256→HS256 forgery; without a key nothing can be verified.
//! *Example*: `auth jwt issuer "https://id.starfleet.test" alg none`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::UNSAFE_JWT;

/// The JWS algorithms meshd verifies.
pub const JWT_ALGORITHMS: [&str; 12] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "EdDSA",
];

/// Every unsafe `auth jwt`.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(auth) = route.auth() else { continue };
        let ast::AuthKind::Jwt(jwt) = &auth.kind else {
            continue;
        };
        let error = |message: String| Diagnostic::error(&UNSAFE_JWT, message);
        let problem = match &jwt.alg {
            Some(alg) if alg.node.eq_ignore_ascii_case("none") => Some(
                error("`alg none` accepts unsigned tokens".to_string())
                    .with_label(alg.span, "anyone can write such a token")
                    .with_help("pin a signing algorithm, e.g. `alg RS256` with `keys file(\"jwks.json\")`"),
            ),
            Some(alg) if !JWT_ALGORITHMS.contains(&alg.node.as_str()) => Some(
                error(format!("unknown JWT algorithm `{}`", alg.node))
                    .with_label(alg.span, "not a JWS algorithm meshd verifies")
                    .with_help(format!("use one of {}", JWT_ALGORITHMS.join(", "))),
            ),
            Some(alg) if alg.node.starts_with("HS") && jwt.secret.is_none() => Some(
                error(format!("`alg {}` needs a shared `secret`", alg.node))
                    .with_label(alg.span, "HMAC tokens are verified with a secret")
                    .with_help("add `secret env(\"JWT_SECRET\")`, or use a public-key algorithm with `keys`"),
            ),
            Some(alg) if !alg.node.starts_with("HS") && jwt.keys.is_none() => Some(
                error(format!("`alg {}` needs `keys`", alg.node))
                    .with_label(alg.span, "public-key tokens are verified with a JWKS")
                    .with_help("add `keys file(\"jwks.json\")` (or env(\"…\"))"),
            ),
            Some(alg) if jwt.keys.is_some() && jwt.secret.is_some() => Some(
                error(format!("`alg {}` with both `keys` and `secret`", alg.node))
                    .with_label(alg.span, "only one kind of key is used")
                    .with_help("keep `secret` for HS* algorithms and `keys` for the others"),
            ),
            None if jwt.keys.is_some() && jwt.secret.is_some() => Some(
                error("`keys` and `secret` without a pinned `alg`".to_string())
                    .with_label(auth.span, "a token could pick the algorithm that suits a forger")
                    .with_help("pin the algorithm: `alg RS256` (keys) or `alg HS256` (secret)"),
            ),
            None if jwt.keys.is_none() && jwt.secret.is_none() => Some(
                error("`auth jwt` without `keys` or `secret`".to_string())
                    .with_label(auth.span, "nothing to verify signatures with")
                    .with_help("add `keys file(\"jwks.json\")` or `secret env(\"JWT_SECRET\")`"),
            ),
            _ => None,
        };
        out.extend(problem);
    }
    out
}
