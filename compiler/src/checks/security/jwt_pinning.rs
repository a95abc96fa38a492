//! `auth jwt` that does not pin the token's audience or issuer (W0608).
//!
//! *What*: an `auth jwt` without `audience` (any `aud` is accepted), or without `issuer` (any
//! `iss` whose signature the keys verify is accepted).
//! *Why*: an identity provider signs tokens for many services with the same keys. Without an
//! audience, a token minted for another service — a low-privilege internal tool, a partner's
//! app — opens this route too (the "confused deputy" that RFC 8725 §3.9 and the OAuth 2.0
//! Security BCP warn about). Without an issuer, a JWKS that holds more than one provider's keys
//! (a shared or aggregated key set) lets either provider mint tokens for this route. Kong's and
//! Envoy's JWT filters check neither unless told to, which is how these go unnoticed.
//! *Example*: `auth jwt issuer "https://id.starfleet.test" alg ES256 keys file("jwks.json")`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::UNPINNED_JWT;

/// Every `auth jwt` without an audience or an issuer.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let Some(auth) = route.auth() else { continue };
        let ast::AuthKind::Jwt(jwt) = &auth.kind else {
            continue;
        };
        let missing: Vec<&str> = [
            jwt.audience.is_none().then_some("audience"),
            jwt.issuer.is_none().then_some("issuer"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if missing.is_empty() {
            continue;
        }
        let (message, label, help) = match missing.as_slice() {
            ["audience"] => (
                "accepts tokens minted for any audience",
                "no `audience`: a token the same issuer made for another service is accepted",
                "pin the audience this route serves: `audience \"enterprise\"`",
            ),
            ["issuer"] => (
                "accepts tokens from any issuer its keys verify",
                "no `issuer`: any provider whose key is in the key set can mint tokens here",
                "pin the issuer: `issuer \"https://id.starfleet.test\"`",
            ),
            _ => (
                "accepts any audience and any issuer",
                "no `audience` or `issuer`: any token these keys verify is accepted",
                "pin both: `issuer \"https://id.starfleet.test\" audience \"enterprise\"`",
            ),
        };
        out.push(
            Diagnostic::warning(
                &UNPINNED_JWT,
                format!("route `{}`'s JWT auth {message}", route.name.node),
            )
            .with_label(auth.span, label)
            .with_help(help),
        );
    }
    out
}
