//! A trust domain that is not a SPIFFE trust domain name (E0350).
//!
//! *What*: `trust_domain "…"` holds something other than lower-case letters, digits, `.`, `-`
//! and `_` (a scheme, a path, upper case, nothing).
//! *Why*: identities are derived as `spiffe://<trust_domain>/<name>`; with an invalid domain no
//! certificate authority (SPIRE, cert-manager, `meshd ca`) can issue them and no peer would match.
//! *Example*: `mesh { trust_domain "spiffe://Starfleet" }`.

use meshwork_bundle::mesh_policy::{is_trust_domain_name, SPIFFE_SCHEME};

use crate::diagnostics::Diagnostic;
use crate::resolve::Program;

use super::TRUST_DOMAIN_INVALID;

/// An error at a trust domain that is not a valid name.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let Some(domain) = program.mesh_trust_domain() else {
        return Vec::new();
    };
    if is_trust_domain_name(&domain.node) {
        return Vec::new();
    }
    let suggestion = domain
        .node
        .strip_prefix(SPIFFE_SCHEME)
        .unwrap_or(&domain.node)
        .trim_end_matches('/')
        .to_ascii_lowercase();
    let help = if is_trust_domain_name(&suggestion) {
        format!("write the domain alone: `trust_domain \"{suggestion}\"`")
    } else {
        "use lower-case letters, digits, `.`, `-` and `_`, e.g. `trust_domain \"starfleet\"`"
            .to_string()
    };
    vec![Diagnostic::error(
        &TRUST_DOMAIN_INVALID,
        format!("`{}` is not a SPIFFE trust domain name", domain.node),
    )
    .with_label(
        domain.span,
        "identities `spiffe://<this>/<name>` cannot be derived from it",
    )
    .with_help(help)]
}
