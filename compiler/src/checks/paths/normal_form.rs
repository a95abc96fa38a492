//! Route paths the path policy refuses (E0020) or that are not in normal form (E0021).
//!
//! *What*: an exact, template or prefix path that normalization refuses (`%2F` under `escaped_slashes
//! reject`, `%00`, a malformed escape), or that normalizes to something else (`/a/../b`, `//admin`,
//! `%7e`).
//! *Why*: requests are normalized before they are matched and forwarded; a refused route path can
//! never match (and meshd refuses the bundle), and a non-normal one is matched as a path the program
//! does not show.
//! *Example*: `match GET prefix "/files%2Fprivate"`, `match GET "/api/../admin"`.

use meshwork_bundle::matcher::{normalize_request_path, PathError};

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;
use crate::syntax::ast;

use super::{gateway_policies, ROUTE_PATH_NOT_NORMAL, ROUTE_PATH_REFUSED};

/// Checks every route's exact, template or prefix path under its gateway's policy.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let policies = gateway_policies(program);
    let mut out = Vec::new();
    for (gateway, route) in program.routes() {
        let Some(matcher) = route.matcher() else {
            continue;
        };
        let path = &matcher.path.value;
        if matcher.path.kind == ast::PathKind::Regex || !path.node.starts_with('/') {
            continue;
        }
        let policy = policies
            .get(gateway.name.node.as_str())
            .copied()
            .unwrap_or_default();
        match normalize_request_path(&path.node, &policy) {
            Ok(normal) if normal == path.node => {}
            Ok(normal) => out.push(
                Diagnostic::error(
                    &ROUTE_PATH_NOT_NORMAL,
                    format!("route path \"{}\" is matched as \"{normal}\"", path.node),
                )
                .with_label(
                    path.span,
                    format!("requests are normalized to \"{normal}\" before matching"),
                )
                .with_help(format!("write \"{normal}\"")),
            ),
            Err(error) => out.push(refused(program, gateway, path, &error)),
        }
    }
    out
}

fn refused(
    program: &Program,
    gateway: &ast::Gateway,
    path: &crate::source::Spanned<String>,
    error: &PathError,
) -> Diagnostic {
    let (at, len, help) = match *error {
        PathError::EscapedSlash(at) => (at, 3, "write `/` (requests carrying an encoded slash get 400), or set `escaped_slashes keep` on the gateway if the upstream keeps it inside one segment"),
        PathError::Backslash(at) => (at, 1, "write `/`: a backslash is not a URI character, and requests carrying one get 400"),
        PathError::EncodedNul(at) => (at, 3, "remove it: requests carrying %00 get 400"),
        PathError::BadEscape(at) => (at, 1, "write `%25` for a literal `%`"),
        PathError::NotAbsolute => (0, 0, "start the path with `/`"),
    };
    Diagnostic::error(
        &ROUTE_PATH_REFUSED,
        format!(
            "route path \"{}\" can never match on gateway `{}`: {error}",
            path.node, gateway.name.node
        ),
    )
    .with_label(
        program.span_in_string(path, at, len),
        "no request path can hold this",
    )
    .with_help(help)
}
