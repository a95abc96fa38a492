//! Settings that leak or contradict access control: API keys in the query string (W0605),
//! a wildcard CORS origin with credentials (E0606), `public` beside `auth` (E0607).
//!
//! *Why*: query strings are written to access logs, browser history and proxies, so a key there
//! leaks; browsers refuse `Access-Control-Allow-Origin: *` with credentials, and reflecting any
//! origin instead would let every site act as the user; `public` says "no auth on purpose", so
//! next to `auth` one of the two is a mistake.
//! *Example*: `auth key query "apikey"`; `cors { origins ["*"] credentials }`; `public auth basic`.

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::{API_KEY_IN_QUERY, PUBLIC_WITH_AUTH, WILDCARD_CORS_CREDENTIALS};

/// Every exposure problem.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, route) in program.routes() {
        let auth = route.auth();
        if let Some(ast::Auth {
            kind:
                ast::AuthKind::Key {
                    location: ast::KeyLocation::Query,
                    name,
                },
            ..
        }) = auth
        {
            out.push(
                Diagnostic::warning(&API_KEY_IN_QUERY, format!("route `{}` reads its API key from the query string", route.name.node))
                    .with_label(name.span, "URLs end up in access logs and browser history")
                    .with_help(format!("read it from a header: `auth key header \"x-api-key\"` (not \"{}\" in the URL)", name.node)),
            );
        }
        for statement in &route.statements {
            match statement {
                ast::RouteStatement::Cors(cors) if cors.credentials => {
                    if let Some(star) = cors.origins.iter().find(|o| o.node == "*") {
                        out.push(
                            Diagnostic::error(&WILDCARD_CORS_CREDENTIALS, "CORS allows credentials from any origin")
                                .with_label(star.span, "any origin")
                                .with_help("list the origins that may send credentials, e.g. [\"https://bridge.starfleet.test\"]"),
                        );
                    }
                }
                ast::RouteStatement::Public(public) => {
                    if let Some(auth) = auth {
                        out.push(
                            Diagnostic::error(
                                &PUBLIC_WITH_AUTH,
                                format!(
                                    "route `{}` is both `public` and authenticated",
                                    route.name.node
                                ),
                            )
                            .with_label(*public, "`public` means no auth on purpose")
                            .with_label(auth.span, "but the route authenticates")
                            .with_help("remove `public`, or remove the `auth` line"),
                        );
                    }
                }
                _ => {}
            }
        }
    }
    out
}
