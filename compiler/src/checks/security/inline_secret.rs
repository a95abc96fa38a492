//! Secrets written inline (E0030, declared with the front end's codes).
//!
//! *What*: a TLS key or certificate, an API key, a password, a JWKS or JWT secret written as a
//! string literal instead of `env("…")` or `file("…")`.
//! *Why*: the literal would be copied into the bundle, which is stored, shipped and logged.
//! Reported here, with the other checks, so one run lists it beside every other error.
//! *Example*: `consumer picard { key "s3cret" }`.

use crate::diagnostics::{codes, Diagnostic};
use crate::resolve::Program;
use crate::syntax::ast::{self, Secret, SecretSource};

/// Every inline secret.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut secrets: Vec<(&Secret, &str)> = Vec::new();
    for gateway in &program.gateways {
        for listener in &gateway.listeners {
            if let Some(tls) = &listener.tls {
                secrets.push((&tls.cert, "a TLS certificate"));
                secrets.push((&tls.key, "a TLS private key"));
            }
        }
        for consumer in &gateway.consumers {
            for credential in &consumer.credentials {
                match &credential.node {
                    ast::CredentialKind::Key(key) => secrets.push((key, "an API key")),
                    ast::CredentialKind::Basic { password, .. } => {
                        secrets.push((password, "a password"))
                    }
                    ast::CredentialKind::Jwt { .. } => {}
                }
            }
        }
        for route in &gateway.routes {
            if let Some(ast::AuthKind::Jwt(jwt)) = route.auth().map(|a| &a.kind) {
                secrets.extend(jwt.keys.as_ref().map(|k| (k, "a JWKS document")));
                secrets.extend(jwt.secret.as_ref().map(|s| (s, "a JWT signing secret")));
            }
        }
    }
    secrets
        .into_iter()
        .filter(|(secret, _)| matches!(secret.node, SecretSource::Inline(_)))
        .map(|(secret, what)| {
            Diagnostic::error(&codes::INLINE_SECRET, format!("{what} is written inline"))
                .with_label(secret.span, "this value would be copied into the bundle")
                .with_help("use env(\"NAME\") or file(\"path\"); meshd reads it at load time")
        })
        .collect()
}
