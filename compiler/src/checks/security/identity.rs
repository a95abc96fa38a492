//! The caller's identity used where it is never known (W0604).
//!
//! *What*: `consumer.*` in a condition or key, `allow|deny consumers|groups`, or
//! `rate_limit … per consumer` on a route without `auth`; `jwt.*` on a route whose auth is not
//! `auth jwt`.
//! *Why*: without authentication there is no consumer and no token: the condition or rule sees
//! nothing and refuses (or, for the rate limit, every caller shares one bucket).
//! *Example*: `route r { match GET "/" public allow groups [captains] … }`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::source::Span;
use crate::syntax::ast;

use super::IDENTITY_NEVER_KNOWN;

fn no_auth(route: &ast::Route, span: Span, what: &str) -> Diagnostic {
    Diagnostic::warning(
        &IDENTITY_NEVER_KNOWN,
        format!(
            "route `{}` uses {what} but does not authenticate",
            route.name.node
        ),
    )
    .with_label(span, "never known here")
    .with_help("add `auth key header \"x-api-key\"` (or basic, jwt) so the caller is known")
}

/// Warnings for `consumer`/`jwt` uses found by the CEL checks in one of the route's expressions.
pub fn cel_identity(
    route: &ast::Route,
    consumer_use: Option<Span>,
    jwt_use: Option<Span>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let auth = route.auth().map(|a| &a.kind);
    if let (Some(span), None) = (consumer_use, auth) {
        out.push(no_auth(route, span, "`consumer`"));
    }
    if let Some(span) = jwt_use {
        match auth {
            None => out.push(no_auth(route, span, "`jwt`")),
            Some(ast::AuthKind::Jwt(_)) => {}
            Some(_) => out.push(
                Diagnostic::warning(
                    &IDENTITY_NEVER_KNOWN,
                    format!(
                        "route `{}` reads `jwt` but does not authenticate with a JWT",
                        route.name.node
                    ),
                )
                .with_label(span, "`jwt.claims` is empty here")
                .with_help("use `auth jwt …`, or read `consumer.*` instead"),
            ),
        }
    }
    out
}

/// Access rules and per-consumer rate limits on routes without auth.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        if route.auth().is_some() {
            continue;
        }
        for statement in &route.statements {
            match statement {
                ast::RouteStatement::Access(rule) if rule.subject != ast::AccessSubject::Ips => {
                    out.push(no_auth(route, rule.span, "consumer or group rules"));
                }
                ast::RouteStatement::RateLimit(limit)
                    if limit.key == ast::RateLimitKey::Consumer =>
                {
                    out.push(
                        no_auth(route, limit.span, "a per-consumer rate limit")
                            .with_help("add `auth …`, or count `per ip` or `per route`; without a consumer every caller shares one bucket"),
                    );
                }
                _ => {}
            }
        }
    }
    out
}
